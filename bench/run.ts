// `npm run bench`: the performance figures of issue 7, measured on this machine in one run. Starts its own
// services on fresh databases (DATABASE_URL's server, or an embedded Postgres for the run), measures a raw
// undici baseline against the same receiver, prints one table and writes it as JSON to bench/results/.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Pool } from 'undici';
import { freshDatabase } from '../harness/database.ts';
import { type Api, api, offer, percentile, submitMany, tenantWithEndpoints } from '../harness/load.ts';
import { ADMIN_KEY, type Service, startService, stopAll } from '../harness/service.ts';
import { signatureHeader } from '../src/delivery/sign.ts';
import { createLogger } from '../src/log.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../src/store/embedded-postgres.ts';
import { adaptiveScenario } from './adaptive.ts';
import { backlogScenario } from './backlog.ts';
import { perDelivery, readCpu } from './cpu.ts';
import { orderingScenario } from './ordering.ts';
import { latencyPlot } from './plot.ts';
import { type BenchReceiver, startReceiver } from './receiver.ts';
import { retentionScenario } from './retention.ts';
import { schedulesScenario } from './schedules.ts';

const JOBS = Number(process.env.BENCH_JOBS ?? 5_000);
const INTAKE_JOBS = Number(process.env.BENCH_INTAKE_JOBS ?? 10_000);
const STEADY_SECONDS = Number(process.env.BENCH_STEADY_SECONDS ?? 30);
const SWEEP_SECONDS = Number(process.env.BENCH_SWEEP_SECONDS ?? 10);
const SWEEP_RATES = [100, 500, 1_000, 2_000];
const CONNECTIONS = 32;
/** The job input: about 1 KiB, so each webhook body is a little over that. */
const INPUT = { note: 'x'.repeat(900), n: 0 };
/**
 * The receiver's endpoint settings beyond its URL: as the API makes one by default (adaptive concurrency);
 * BENCH_ENDPOINT='{"adaptiveConcurrency":false}' for a fixed DELIVERY_ENDPOINT_CONCURRENCY, say.
 */
const ENDPOINT = JSON.parse(process.env.BENCH_ENDPOINT ?? '{}') as Record<string, unknown>;
/** What a benchmark may not measure as a limit of its own: the tenant's rate and queue caps. */
const SERVICE_ENV = {
  TENANT_RATE_LIMIT: '1000000',
  TENANT_MAX_QUEUED_JOBS: '10000000',
  // For profiling the service under load: BENCH_SERVICE_NODE_OPTIONS=--cpu-prof, say.
  ...(process.env.BENCH_SERVICE_NODE_OPTIONS && { NODE_OPTIONS: process.env.BENCH_SERVICE_NODE_OPTIONS }),
};

export interface Row {
  scenario: string;
  /** Per second: deliveries, accepted jobs, or the offered load. */
  throughput: number;
  ratio?: number;
  p50?: number;
  p95?: number;
  p99?: number;
  rssMiB?: number;
  /** CPU of the service's processes and Postgres over the row, per delivery (ms). */
  cpuMsPerDelivery?: number;
  errors: number;
  note?: string;
}

const log = createLogger('warn');
let embedded: EmbeddedPostgres | undefined;
let dataDir: string | undefined;
let serverUrl = process.env.DATABASE_URL;
if (!serverUrl) {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'hookrelay-bench-'));
  embedded = await startEmbeddedPostgres(dataDir, log);
  serverUrl = embedded.url;
}

/** Restarts the embedded server with pg_stat_statements loaded (a server from DATABASE_URL is left as it is). */
async function loadStatements(): Promise<void> {
  if (!embedded || !dataDir) return;
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  await client.query("alter system set shared_preload_libraries = 'pg_stat_statements'");
  await client.end();
  await embedded.stop();
  embedded = await startEmbeddedPostgres(dataDir, log);
  serverUrl = embedded.url;
}

/** Samples the services' RSS every 250 ms; `peak` is the highest seen since `reset`. */
function rssSampler(services: Service[]) {
  let peak = 0;
  const timer = setInterval(() => {
    for (const s of services) peak = Math.max(peak, s.rssMiB());
  }, 250);
  return {
    peak: () => Math.round(peak),
    reset: () => {
      peak = 0;
    },
    stop: () => clearInterval(timer),
  };
}

/** Collects the receiver's first arrival per job until every accepted job arrived or `timeoutMs` passed. */
async function arrivals(
  receiver: BenchReceiver,
  jobs: Map<string, number>,
  into: Map<string, number>,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  let duplicates = 0;
  for (;;) {
    const snap = await receiver.snapshot();
    for (const [job, at] of snap.firstByJob) if (!into.has(job)) into.set(job, at);
    duplicates = snap.duplicates;
    if ([...jobs.keys()].every((id) => into.has(id)) || Date.now() > deadline) return { duplicates };
    await sleep(50);
  }
}

const job =
  (endpointId: string, type = 'echo') =>
  (i: number) => ({ type, input: { ...INPUT, n: i }, endpointId });

async function baseline(receiver: BenchReceiver): Promise<Row> {
  const pool = new Pool(receiver.url, { connections: 64 });
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const body = JSON.stringify({ type: 'job.succeeded', data: INPUT });
  let errors = 0;
  const post = async (count: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < count) {
          const id = `msg_${next++}`;
          const timestamp = Math.floor(Date.now() / 1000);
          const response = await pool.request({
            method: 'POST',
            path: '/hook',
            headers: {
              'content-type': 'application/json',
              'webhook-id': id,
              'webhook-timestamp': String(timestamp),
              'webhook-signature': signatureHeader([secret], id, timestamp, body),
            },
            body,
          });
          await response.body.dump();
          if (response.statusCode !== 200) errors++;
        }
      }),
    );
  };
  await post(1_000); // warm-up: connections and JIT, as the service gets in its own warm-up
  const started = performance.now();
  await post(JOBS);
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  await receiver.reset();
  return { scenario: 'raw undici baseline', throughput: Math.round(JOBS / seconds), errors };
}

async function intake(): Promise<Row> {
  const database = await freshDatabase(serverUrl as string);
  const service = await startService('api', {
    ...SERVICE_ENV,
    DATABASE_URL: database.url,
    HOOKRELAY_ROLE: 'api',
  });
  const rss = rssSampler([service]);
  const tenant = await tenantWithEndpoints(service.base, []);
  const client = api(service.base, tenant.key, CONNECTIONS);
  const body = (i: number) => ({ type: 'echo', input: { ...INPUT, n: i } });
  await submitMany(client, 500, body, CONNECTIONS); // warm-up: connections, JIT, caches
  const started = performance.now();
  const result = await submitMany(client, INTAKE_JOBS, body, CONNECTIONS);
  const seconds = (performance.now() - started) / 1000;
  // A job row is its own queue entry: queued with a due time.
  const { rows } = await database.db.query<{ jobs: number; entries: number }>(
    `select count(*)::int as jobs,
            (count(*) filter (where status = 'queued' and next_attempt_at is not null))::int as entries
       from jobs`,
  );
  const committed = rows[0] ?? { jobs: 0, entries: 0 };
  await client.close();
  rss.stop();
  await service.stop();
  await database.drop();
  const errors = [...result.refused.values()].reduce((a, b) => a + b, 0);
  return {
    scenario: 'intake (202s, api role)',
    throughput: Math.round(result.accepted.size / seconds),
    rssMiB: rss.peak(),
    errors,
    note: `${committed.jobs - 500} job rows committed (${committed.entries - 500} queued and due) for ${result.accepted.size} 202s`,
  };
}

/** Submits JOBS jobs as fast as CONNECTIONS allow and times until the receiver has seen each one. */
async function burst(
  name: string,
  clients: Api[],
  endpointId: string,
  receiver: BenchReceiver,
  baselineRate: number,
  options: { type?: string; cpuOf?: Array<number | undefined> } = {},
) {
  const type = options.type ?? 'echo';
  await receiver.reset();
  const cpu = options.cpuOf && readCpu(options.cpuOf);
  const started = Date.now();
  const parts = await Promise.all(
    clients.map((client) =>
      submitMany(client, JOBS / clients.length, job(endpointId, type), CONNECTIONS / clients.length),
    ),
  );
  const accepted = new Map(parts.flatMap((part) => [...part.accepted]));
  const seen = new Map<string, number>();
  const { duplicates } = await arrivals(receiver, accepted, seen, 300_000);
  const used = cpu && perDelivery(cpu.stop(), seen.size);
  const last = Math.max(...seen.values());
  const throughput = Math.round(seen.size / ((last - started) / 1000));
  const refused = parts.reduce((n, part) => n + [...part.refused.values()].reduce((a, b) => a + b, 0), 0);
  return {
    scenario: name,
    throughput,
    ratio: Number((throughput / baselineRate).toFixed(2)),
    errors: refused + (accepted.size - seen.size),
    ...(used && { cpuMsPerDelivery: used.cpuMsPerDelivery }),
    note: `${seen.size}/${JOBS} delivered, ${duplicates} duplicate deliveries${used ? `; ${used.text}` : ''}`,
  } satisfies Row;
}

/** Offers `rate` jobs/s for `seconds` and reports submit-to-arrival latency percentiles. */
async function steady(
  client: Api,
  endpointId: string,
  receiver: BenchReceiver,
  rate: number,
  seconds: number,
) {
  await receiver.reset();
  const submitted = await offer([client], rate, seconds, job(endpointId));
  const seen = new Map<string, number>();
  await arrivals(receiver, submitted.accepted, seen, 120_000);
  const latencies = [...submitted.accepted].flatMap(([id, at]) => {
    const arrived = seen.get(id);
    return arrived === undefined ? [] : [arrived - at];
  });
  const refused = [...submitted.refused.values()].reduce((a, b) => a + b, 0);
  return {
    scenario: `latency at ${rate} jobs/s, ${seconds} s`,
    throughput: rate,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    errors: refused + (submitted.accepted.size - latencies.length),
  } satisfies Row;
}

/** The service's own account of its memory (prom-client's process metrics), in MiB. */
async function heapOf(base: string) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const mib = (name: string) =>
    Math.round(
      Number(new RegExp(`^hookrelay_process_${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0) /
        2 ** 20,
    );
  return {
    heapUsedMiB: mib('nodejs_heap_size_used_bytes'),
    heapTotalMiB: mib('nodejs_heap_size_total_bytes'),
    externalMiB: mib('nodejs_external_memory_bytes'),
  };
}

async function tableSizes(db: {
  query: (sql: string) => Promise<{ rows: Array<{ name: string; kib: number }> }>;
}) {
  const { rows } = await db.query(
    `select c.relname as name, (pg_total_relation_size(c.oid) / 1024)::int as kib
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r' and (n.nspname = 'public' or (n.nspname = 'pgboss' and c.relname like 'j%'))
        and pg_total_relation_size(c.oid) > 8192 * 2
      order by kib desc`,
  );
  return Object.fromEntries(rows.map((row) => [row.name, row.kib]));
}

async function allInOne(receiver: BenchReceiver, baselineRate: number) {
  const database = await freshDatabase(serverUrl as string);
  const service = await startService('all-in-one', { ...SERVICE_ENV, DATABASE_URL: database.url });
  const rss = rssSampler([service]);
  const rssStart = Math.round(service.rssMiB());
  const tenant = await tenantWithEndpoints(service.base, [receiver], ENDPOINT);
  const endpointId = tenant.endpoints[0] as string;
  const client = api(service.base, tenant.key, CONNECTIONS);
  const sizesBefore = await tableSizes(database.db);
  const rows: Row[] = [];

  const throughput = await burst('end to end, all-in-one', [client], endpointId, receiver, baselineRate, {
    cpuOf: [service.child.pid],
  });
  const attempts = await database.db.query<{ n: number }>('select count(*)::int as n from attempts');
  throughput.note += `, ${attempts.rows[0]?.n} attempts recorded`;
  rows.push({ ...throughput, rssMiB: rss.peak() });

  const sweep: Row[] = [];
  for (const rate of SWEEP_RATES) {
    rss.reset();
    const row = await steady(
      client,
      endpointId,
      receiver,
      rate,
      rate === 500 ? STEADY_SECONDS : SWEEP_SECONDS,
    );
    sweep.push({ ...row, rssMiB: rss.peak() });
  }
  rows.push(...sweep);
  await client.close();
  await sleep(10_000);
  const memory = {
    startMiB: rssStart,
    peakMiB: Math.max(...rows.map((r) => r.rssMiB ?? 0)),
    afterMiB: Math.round(service.rssMiB()),
    after: await heapOf(service.base),
  };
  const sizesAfter = await tableSizes(database.db);
  rss.stop();
  const errorLines = service.errors.length;
  await service.stop();
  await database.drop();
  return { rows, sweep, memory, tables: { before: sizesBefore, after: sizesAfter }, errorLines };
}

async function scaleOut(receiver: BenchReceiver, baselineRate: number): Promise<Row> {
  const database = await freshDatabase(serverUrl as string);
  const env = { ...SERVICE_ENV, DATABASE_URL: database.url };
  const services = [
    await startService('api', { ...env, HOOKRELAY_ROLE: 'api' }),
    await startService('worker 1', { ...env, HOOKRELAY_ROLE: 'worker' }),
    await startService('worker 2', { ...env, HOOKRELAY_ROLE: 'worker' }),
  ];
  const rss = rssSampler(services);
  const front = services[0] as Service;
  const tenant = await tenantWithEndpoints(front.base, [receiver], ENDPOINT);
  const client = api(front.base, tenant.key, CONNECTIONS);
  const row = await burst(
    'end to end, 1 api + 2 workers',
    [client],
    tenant.endpoints[0] as string,
    receiver,
    baselineRate,
    { cpuOf: services.map((s) => s.child.pid) },
  );
  const twice = await database.db.query<{ n: number }>(
    "select count(*)::int as n from jobs where attempts > 1 or status <> 'succeeded'",
  );
  row.note += `, ${twice.rows[0]?.n} jobs run more than once or not succeeded`;
  await client.close();
  rss.stop();
  for (const s of services) await s.stop();
  await database.drop();
  return { ...row, rssMiB: rss.peak() };
}

const REMOTE_WORKERS = 4;
const REMOTE_CONCURRENCY = Number(process.env.BENCH_REMOTE_CONCURRENCY ?? 25);

/** A pulling worker process (bench/remote-worker.ts) running the TypeScript client against `base`. */
function remoteWorker(base: string, key: string, type: string) {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'remote-worker.ts')], {
    env: {
      PATH: process.env.PATH ?? '',
      HOOKRELAY_URL: base,
      HOOKRELAY_KEY: key,
      WORKER_TYPE: type,
      WORKER_CONCURRENCY: String(REMOTE_CONCURRENCY),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    rssMiB: () => Number(/VmRSS:\s+(\d+)/.exec(readStatus(child.pid))?.[1] ?? 0) / 1024,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const readStatus = (pid: number | undefined) => {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
};

/**
 * The same burst twice on one all-in-one service: `echo` jobs run in-process, then a remote type's jobs pulled
 * by REMOTE_WORKERS separate worker processes (the TypeScript client, an echo handler), each job's result
 * delivered to the same receiver. The remote row's note gives its throughput as a share of the in-process one.
 */
async function remote(receiver: BenchReceiver, baselineRate: number): Promise<Row[]> {
  const database = await freshDatabase(serverUrl as string);
  const service = await startService('all-in-one', { ...SERVICE_ENV, DATABASE_URL: database.url });
  const rss = rssSampler([service]);
  const tenant = await tenantWithEndpoints(service.base, [receiver], ENDPOINT);
  const endpointId = tenant.endpoints[0] as string;
  const client = api(service.base, tenant.key, CONNECTIONS);
  const inProcess: Row = {
    ...(await burst('end to end, in-process (echo)', [client], endpointId, receiver, baselineRate)),
    rssMiB: rss.peak(),
  };

  const type = 'bench.remote';
  const registered = await client.call('PUT', `/v1/job-types/${type}`, { execution: 'remote' });
  const admin = api(service.base, ADMIN_KEY, 1);
  const key = await admin.call<{ apiKey: string }>('POST', `/v1/admin/tenants/${tenant.tenantId}/keys`, {
    role: 'worker',
  });
  await admin.close();
  if (registered.status !== 201 || key.status !== 201)
    throw new Error(`remote type or worker key refused: ${registered.status}, ${key.status}`);
  const workers = Array.from({ length: REMOTE_WORKERS }, () =>
    remoteWorker(service.base, key.body.apiKey, type),
  );
  await sleep(2_000); // started, and their first claims waiting
  rss.reset();
  let workerPeak = 0;
  const sampler = setInterval(() => {
    for (const w of workers) workerPeak = Math.max(workerPeak, w.rssMiB());
  }, 250);
  const pulled = await burst(
    `end to end, ${REMOTE_WORKERS} remote workers`,
    [client],
    endpointId,
    receiver,
    baselineRate,
    { type },
  );
  clearInterval(sampler);
  const twice = await database.db.query<{ n: number }>(
    "select count(*)::int as n from jobs where type = $1 and (attempts > 1 or status <> 'succeeded')",
    [type],
  );
  pulled.note += `, ${twice.rows[0]?.n} jobs run more than once or not succeeded; ${(pulled.throughput / inProcess.throughput).toFixed(2)} of in-process; ${REMOTE_WORKERS} processes × concurrency ${REMOTE_CONCURRENCY}, each up to ${Math.round(workerPeak)} MiB`;
  const row = { ...pulled, rssMiB: rss.peak() };
  await Promise.all(workers.map((w) => w.stop()));
  await client.close();
  rss.stop();
  await service.stop();
  await database.drop();
  return [inProcess, row];
}

/** Starts bench/peer.ts on a fresh database; resolves once it listens. */
async function startPeer(databaseUrl: string, receiver: BenchReceiver, key: string) {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'peer.ts')], {
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: databaseUrl,
      PEER_RECEIVER_URL: `${receiver.url}/hook`,
      PEER_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
      PEER_KEY: key,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const base = await new Promise<string>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`peer exited (${code}) before it was ready`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      let ready: { msg?: string; url?: string } = {};
      try {
        ready = JSON.parse(line) as typeof ready;
      } catch {
        // Not the ready line: something else the peer printed.
      }
      if (ready.msg === 'peer ready' && ready.url) resolve(ready.url);
    });
  });
  return {
    base,
    pid: child.pid,
    rssMiB: () => Number(/VmRSS:\s+(\d+)/.exec(readStatus(child.pid))?.[1] ?? 0) / 1024,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * The peer (bench/peer.ts: Fastify and pg-boss by the book, its own process on a fresh database) through the
 * all-in-one rows' burst and 500 jobs/s: the same submissions, the same receiver.
 */
async function peer(receiver: BenchReceiver, baselineRate: number): Promise<Row[]> {
  const database = await freshDatabase(serverUrl as string);
  const key = randomBytes(16).toString('hex');
  const peerProcess = await startPeer(database.url, receiver, key);
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, peerProcess.rssMiB());
  }, 250);
  const client = api(peerProcess.base, key, CONNECTIONS);
  const rows: Row[] = [];
  try {
    const throughput = await burst('peer: end to end', [client], 'peer', receiver, baselineRate, {
      cpuOf: [peerProcess.pid],
    });
    rows.push({ ...throughput, rssMiB: Math.round(peak) });
    peak = 0;
    const latency = await steady(client, 'peer', receiver, 500, STEADY_SECONDS);
    rows.push({ ...latency, scenario: `peer: ${latency.scenario}`, rssMiB: Math.round(peak) });
  } finally {
    clearInterval(sampler);
    await client.close();
    await peerProcess.stop();
    await database.drop();
  }
  return rows;
}

/**
 * Issue 23's comparison, when the all-in-one and peer rows both ran: hookrelay's end-to-end throughput against
 * the peer's (target at least twice), its p99 at 500 jobs/s against the peer's (target at most half).
 */
function againstPeer(rows: Row[]) {
  const find = (name: string) => rows.find((r) => r.scenario === name);
  const ours = find('end to end, all-in-one');
  const theirs = find('peer: end to end');
  const ourP99 = find(`latency at 500 jobs/s, ${STEADY_SECONDS} s`)?.p99;
  const theirP99 = find(`peer: latency at 500 jobs/s, ${STEADY_SECONDS} s`)?.p99;
  if (!ours || !theirs || ourP99 === undefined || theirP99 === undefined) return undefined;
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    throughputRatio: round(ours.throughput / Math.max(1, theirs.throughput)),
    p99Ratio: round(ourP99 / Math.max(1, theirP99)),
    cpuMsPerDelivery: { hookrelay: ours.cpuMsPerDelivery, peer: theirs.cpuMsPerDelivery },
  };
}

const SCENARIOS = [
  'baseline',
  'intake',
  'all-in-one',
  'scale-out',
  'remote',
  'peer',
  'retention',
  'backlog',
  'schedules',
  'adaptive',
  'ordering',
];
const chosen = process.argv.slice(2);
const unknown = chosen.filter((name) => !SCENARIOS.includes(name));
if (unknown.length > 0) {
  console.error(`unknown scenario: ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`);
  process.exit(2);
}
const runs = (name: string) => chosen.length === 0 || chosen.includes(name);

const receiver = await startReceiver();
const rows: Row[] = [];
let report: Record<string, unknown> = {};
try {
  // The baseline runs whatever was chosen: every ratio is against it.
  const base = await baseline(receiver);
  rows.push(base);
  console.log(`${base.scenario}: ${base.throughput}/s`);
  if (runs('intake')) {
    rows.push(await intake());
    console.log(`intake: ${rows.at(-1)?.throughput}/s`);
  }
  if (runs('all-in-one')) {
    const one = await allInOne(receiver, base.throughput);
    rows.push(...one.rows);
    report = { memory: one.memory, tables: one.tables, serviceErrorLines: one.errorLines, sweep: one.sweep };
  }
  if (runs('scale-out')) rows.push(await scaleOut(receiver, base.throughput));
  if (runs('remote')) rows.push(...(await remote(receiver, base.throughput)));
  if (runs('peer')) {
    rows.push(...(await peer(receiver, base.throughput)));
    const compared = againstPeer(rows);
    if (compared) report = { ...report, againstPeer: compared };
  }
  // Only when named: it reads pg_stat_statements, which the embedded server loads only after a restart.
  if (chosen.includes('backlog')) {
    await loadStatements();
    const backlog = await backlogScenario(serverUrl as string, receiver, SERVICE_ENV);
    rows.push(...backlog.rows);
    report = { ...report, backlog: backlog.report };
  }
  // Only when named: it runs for BENCH_SCHEDULE_MINUTES (10).
  if (chosen.includes('schedules')) {
    const scheduled = await schedulesScenario(serverUrl as string, receiver, SERVICE_ENV);
    rows.push(...scheduled.rows);
    report = { ...report, schedules: scheduled.report };
  }
  // Only when named: its failing key is refused for BENCH_ORDERING_FAIL_SECONDS (60).
  if (chosen.includes('ordering')) {
    const ordered = await orderingScenario(serverUrl as string, receiver, SERVICE_ENV);
    rows.push(...ordered.rows);
    report = { ...report, ordering: ordered.report };
  }
  // Only when named: three runs of BENCH_ADAPTIVE_SECONDS (40) against receivers that push back.
  if (chosen.includes('adaptive')) {
    const adapted = await adaptiveScenario(serverUrl as string, SERVICE_ENV);
    rows.push(...adapted.rows);
    report = { ...report, adaptive: adapted.report };
  }
  // Only when named: it loads a million rows first (docs/benchmarks.md, Retention).
  if (chosen.includes('retention')) {
    const swept = await retentionScenario(serverUrl as string, receiver, SERVICE_ENV);
    rows.push(...swept.rows);
    report = { ...report, retention: swept.report };
  }
} finally {
  await stopAll();
  await receiver.close();
}

const at = new Date().toISOString();
const result = {
  at,
  machine: {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
  },
  settings: {
    jobs: JOBS,
    intakeJobs: INTAKE_JOBS,
    connections: CONNECTIONS,
    steadySeconds: STEADY_SECONDS,
    sweepSeconds: SWEEP_SECONDS,
  },
  rows,
  ...report,
};

const cell = (value: number | undefined) => (value === undefined || Number.isNaN(value) ? '' : String(value));
console.log(
  `\n${'scenario'.padEnd(34)}${'per s'.padStart(7)}${'ratio'.padStart(7)}${'p50'.padStart(7)}${'p95'.padStart(7)}${'p99'.padStart(7)}${'RSS MiB'.padStart(9)}${'errors'.padStart(8)}`,
);
for (const r of rows) {
  console.log(
    `${r.scenario.padEnd(34)}${cell(r.throughput).padStart(7)}${cell(r.ratio).padStart(7)}${cell(r.p50).padStart(7)}${cell(r.p95).padStart(7)}${cell(r.p99).padStart(7)}${cell(r.rssMiB).padStart(9)}${cell(r.errors).padStart(8)}${r.note ? `  ${r.note}` : ''}`,
  );
}
// Only the all-in-one run measures these.
if (report.memory) console.log(`memory: ${JSON.stringify(report.memory)}`);
if (report.tables) console.log(`tables (KiB): ${JSON.stringify(report.tables)}`);
if (report.againstPeer) {
  const c = report.againstPeer as NonNullable<ReturnType<typeof againstPeer>>;
  console.log(
    `against the peer: ${c.throughputRatio}× its end-to-end throughput (target ≥ 2), ${c.p99Ratio}× its p99 at 500 jobs/s (target ≤ 0.5); CPU a delivery ${c.cpuMsPerDelivery.hookrelay} ms against its ${c.cpuMsPerDelivery.peer} ms (target ≤ 0.6)`,
  );
}

const dir = path.join(import.meta.dirname, 'results');
await fs.mkdir(dir, { recursive: true });
const file = path.join(dir, `${at.replace(/[:.]/g, '-')}.json`);
await fs.writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
console.log(`written: ${path.relative(process.cwd(), file)}`);
if (report.sweep) {
  await fs.writeFile(path.join(dir, 'latency.svg'), latencyPlot(report.sweep as Row[]));
  console.log('written: bench/results/latency.svg');
}
await embedded?.stop();
if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
