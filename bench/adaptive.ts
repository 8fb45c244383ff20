// `npm run bench -- adaptive`: adaptive per-endpoint delivery concurrency against receivers that push back.
// A simulated receiver (on its own thread) serves `parallel` requests at once, each for `serviceMs`; requests
// beyond that queue inside it (their latency rises), and beyond REJECT_FACTOR × parallel in flight it answers
// 503 at once, without Retry-After. Three cases, each on a fresh database with one API and ONE worker process
// (limits are per dispatching process: with several workers their limits add up to the endpoint's use):
//   adaptive  capacity 20 at once × 20 ms (1,000/s, 503 beyond 30), halved to 10 at half time (503 beyond 15);
//             the endpoint with maxConcurrency 100, adaptiveConcurrency true.
//   fixed     the same receiver, the endpoint with adaptiveConcurrency false and maxConcurrency 25.
//   slowdown  a receiver with 200 at once that answers in 5 ms, then in 500 ms from half time; adaptive.
// The load (BENCH_ADAPTIVE_LOAD): `backlog` (the default) writes OVERLOAD × what the run can deliver as messages
// straight into the queue, all due at the start, so only deliveries run during the measurement; `jobs` submits
// echo jobs before the run, their runAt spread at OVERLOAD × the first half's capacity (the job runner then runs
// them beside the deliveries, and its one-second poll for due runAts makes the flow come in bursts).
// Measured: the receiver's 2xx (goodput), 503s and mean requests in flight per 250 ms; every 250 ms the worker's
// attempts in flight (its /metrics) and its limit (a per-receiver gauge if /metrics has one, else what it reports
// about once a second to receiver_concurrency, which the endpoint view's `concurrency` sums); the attempts as the
// database recorded them. The first CONVERGENCE_S of each half are left out of its goodput (time to adapt).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { type FreshDatabase, freshDatabase } from '../harness/database.ts';
import { type Api, api, percentile, submitMany, tenantWithEndpoints } from '../harness/load.ts';
import { startService } from '../harness/service.ts';
import type { Row } from './run.ts';
import { type TimelineSeries, timelinePlot } from './timeline-plot.ts';

const SECONDS = Number(process.env.BENCH_ADAPTIVE_SECONDS ?? 40);
const SERVICE_MS = Number(process.env.BENCH_ADAPTIVE_SERVICE_MS ?? 20);
const OVERLOAD = Number(process.env.BENCH_ADAPTIVE_OVERLOAD ?? 1.3);
const SLOWDOWN_RATE = Number(process.env.BENCH_ADAPTIVE_SLOWDOWN_RATE ?? 500);
/** `backlog`: messages written into the queue, due at the start; `jobs`: echo jobs with runAt spread over the run. */
const LOAD = process.env.BENCH_ADAPTIVE_LOAD === 'jobs' ? 'jobs' : 'backlog';
/** Deliveries per second the engine manages here at most: a backlog is sized for no more (slowdown's 5 ms half). */
const ENGINE_RATE = Number(process.env.BENCH_ADAPTIVE_ENGINE_RATE ?? 5_000);
const CASES = (process.env.BENCH_ADAPTIVE_CASES ?? 'adaptive,fixed,slowdown').split(',');
const REJECT_FACTOR = 1.5;
const CONVERGENCE_S = 3;
const BUCKET_MS = 250;
const SAMPLE_MS = 250;
/** Short, so that 503'd messages come back within the run; five retries before a dead letter. */
const RETRY_SCHEDULE = '200ms,500ms,1s,2s,5s';

/** From `at` seconds after the start: so many requests served at once, each taking `serviceMs`. */
interface Phase {
  at: number;
  parallel: number;
  serviceMs: number;
}
const rejectAbove = (phase: Phase) => Math.floor(REJECT_FACTOR * phase.parallel);
const capacityOf = (phase: Phase) => (phase.parallel * 1000) / phase.serviceMs;

interface Bucket {
  ok: number;
  rejected: number;
  /** Connections closed before an answer (the sender gave up). */
  aborted: number;
  /** Requests in flight (received, not answered) integrated over the bucket's time: / BUCKET_MS is their mean. */
  inFlightMs: number;
  /** The same for requests being served (not queued). */
  servingMs: number;
  /** Sum of the time 2xx requests were served for (not queued), for their mean. */
  servedMs: number;
}

interface ReceiverResult {
  /** From the start, BUCKET_MS each. */
  buckets: Bucket[];
  /** Before the start (none expected: the first jobs are due at it). */
  early: number;
  /** 2xx for a webhook-id already answered 2xx. */
  duplicates: number;
}

// The receiver's thread: answers as its current phase allows and counts what it did per bucket.
if (!isMainThread && parentPort && workerData?.adaptiveReceiver) {
  const port = parentPort;
  const phases = workerData.phases as Phase[];
  let phase = phases[0] as Phase;
  let start = Number.POSITIVE_INFINITY;
  let inFlight = 0;
  let serving = 0;
  const waiting: Array<() => void> = [];
  const buckets: Bucket[] = [];
  let early = 0;
  let duplicates = 0;
  const delivered = new Set<string>();
  const bucketAt = (now: number) => {
    const i = Math.floor((now - start) / BUCKET_MS);
    if (i < 0) return undefined;
    for (let k = buckets.length; k <= i; k++)
      buckets.push({
        ok: 0,
        rejected: 0,
        aborted: 0,
        inFlightMs: 0,
        servingMs: 0,
        servedMs: 0,
      });
    return buckets[i] as Bucket;
  };
  /** Called before every change of inFlight or serving: adds the time since the last to their integrals. */
  let since = Date.now();
  const account = () => {
    const now = Date.now();
    // Split at bucket boundaries: with slow answers nothing may change for several buckets.
    while (since < now) {
      if (since < start) {
        since = Math.min(now, start);
        continue;
      }
      const end = Math.min(now, start + (Math.floor((since - start) / BUCKET_MS) + 1) * BUCKET_MS);
      const bucket = bucketAt(since) as Bucket;
      bucket.inFlightMs += inFlight * (end - since);
      bucket.servingMs += serving * (end - since);
      since = end;
    }
  };
  const pump = () => {
    while (serving < phase.parallel && waiting.length > 0) (waiting.shift() as () => void)();
  };
  const server = http.createServer((request, response) => {
    account();
    inFlight++;
    let answered = false;
    const answer = (status: number, servedMs = 0) => {
      if (answered) return;
      answered = true;
      account();
      inFlight--;
      const bucket = bucketAt(Date.now());
      if (!bucket) early++;
      else if (status === 200) {
        bucket.ok++;
        bucket.servedMs += servedMs;
      } else bucket.rejected++;
      if (status === 200) {
        const id = String(request.headers['webhook-id']);
        if (delivered.has(id)) duplicates++;
        else delivered.add(id);
      }
      if (!response.destroyed) response.writeHead(status).end();
    };
    response.on('close', () => {
      if (answered) return;
      answered = true;
      account();
      inFlight--;
      const bucket = bucketAt(Date.now());
      if (bucket) bucket.aborted++;
    });
    request.resume();
    request.on('end', () => {
      if (inFlight > rejectAbove(phase)) return answer(503);
      waiting.push(() => {
        account();
        serving++;
        const began = Date.now();
        setTimeout(() => {
          account();
          serving--;
          answer(200, Date.now() - began);
          pump();
        }, phase.serviceMs);
      });
      pump();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => port.postMessage({ port: (server.address() as AddressInfo).port }));
  port.on('message', (message: { start?: number; progress?: true; result?: true }) => {
    if (message.start !== undefined) {
      start = message.start;
      for (const next of phases.slice(1))
        setTimeout(
          () => {
            phase = next;
            pump();
          },
          start + next.at * 1000 - Date.now(),
        );
      port.postMessage('started');
    } else if (message.progress) {
      const ok = buckets.reduce((n, b) => n + b.ok, 0);
      const rejected = buckets.reduce((n, b) => n + b.rejected, 0);
      port.postMessage({ ok, rejected, inFlight });
    } else port.postMessage({ buckets, early, duplicates } satisfies ReceiverResult);
  });
}

/** The simulated receiver on its own thread, so that the sampler's event loop does not delay its answers. */
async function startSimulatedReceiver(phases: Phase[]) {
  const worker = new Worker(new URL(import.meta.url), { workerData: { adaptiveReceiver: true, phases } });
  const next = <T>() => new Promise<T>((resolve) => worker.once('message', resolve));
  const { port } = await next<{ port: number }>();
  return {
    url: `http://127.0.0.1:${port}`,
    async start(at: number) {
      worker.postMessage({ start: at });
      await next();
    },
    async progress() {
      worker.postMessage({ progress: true });
      return next<{ ok: number; rejected: number; inFlight: number }>();
    },
    async result() {
      worker.postMessage({ result: true });
      return next<ReceiverResult>();
    },
    close: () => worker.terminate(),
  };
}

interface Case {
  name: 'adaptive' | 'fixed' | 'slowdown';
  title: string;
  endpoint: { maxConcurrency: number; adaptiveConcurrency: boolean };
  phases: Phase[];
  /** Jobs offered per second (their runAt spread at this rate). */
  rate: number;
}

function cases(): Case[] {
  const half = SECONDS / 2;
  const halving: Phase[] = [
    { at: 0, parallel: 20, serviceMs: SERVICE_MS },
    { at: half, parallel: 10, serviceMs: SERVICE_MS },
  ];
  const rate = Math.round(OVERLOAD * capacityOf(halving[0] as Phase));
  const all: Case[] = [
    {
      name: 'adaptive',
      title: 'adaptive, maxConcurrency 100; capacity halved at half time',
      endpoint: { maxConcurrency: 100, adaptiveConcurrency: true },
      phases: halving,
      rate,
    },
    {
      name: 'fixed',
      title: 'fixed limit 25 (not adaptive); capacity halved at half time',
      endpoint: { maxConcurrency: 25, adaptiveConcurrency: false },
      phases: halving,
      rate,
    },
    {
      name: 'slowdown',
      title: 'adaptive, maxConcurrency 100; 5 ms → 500 ms at half time',
      endpoint: { maxConcurrency: 100, adaptiveConcurrency: true },
      phases: [
        { at: 0, parallel: 200, serviceMs: 5 },
        { at: half, parallel: 200, serviceMs: 500 },
      ],
      rate: SLOWDOWN_RATE,
    },
  ];
  return all.filter((c) => CASES.includes(c.name));
}

/** Prometheus text: the value of `name` whose labels include every one of `labels`; undefined if none. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const set = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) return Number(match[3]);
  }
  return undefined;
}

/** Every label set of a counter: `outcome="retry"` → its value. */
function counters(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)/.exec(line);
    if (match && match[1] === name) out[match[2] ?? ''] = Number(match[3]);
  }
  return out;
}

interface Sample {
  t: number;
  /** The worker's limit for the receiver: a per-receiver gauge in /metrics, else its receiver_concurrency row. */
  limit: number;
  inFlight: number;
  /** The endpoint view's `concurrency`, when this sample read it. */
  view?: { limit: number; inFlight: number };
  circuitOpen: boolean;
  paused: boolean;
}

/** Sleeps until `at` (ms since the epoch), at once if that has passed. */
const until = (at: number) => sleep(Math.max(0, at - Date.now()));
const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);

function engineState() {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, {
        cwd: path.join(import.meta.dirname, '..'),
        encoding: 'utf8',
      }).trim();
    } catch {
      return '';
    }
  };
  return {
    commit: git('log', '-1', '--format=%h %s').slice(0, 100),
    srcChanged: git('status', '--porcelain', '--', 'src', 'migrations').split('\n').filter(Boolean).length,
  };
}

/**
 * Messages for the receiver written straight into the queue (as backlog.ts does), all due at the start: enough for
 * OVERLOAD × what each phase's capacity (or the engine, ENGINE_RATE) can take. No intake and no job runs during
 * the measurement: only deliveries.
 */
async function writeBacklog(database: FreshDatabase, c: Case, endpointId: string, url: string) {
  const count = Math.round(
    OVERLOAD *
      c.phases.reduce(
        (n, p, i) => n + Math.min(capacityOf(p), ENGINE_RATE) * ((c.phases[i + 1]?.at ?? SECONDS) - p.at),
        0,
      ),
  );
  // Writing and analysing runs at tens of thousands of rows a second here.
  const start = Date.now() + 3_000 + Math.ceil(count / 10);
  const tenant = await database.db.query<{ tenant_id: string }>(
    'select tenant_id from endpoints where id = $1',
    [endpointId],
  );
  await database.db.query(
    `insert into messages (id, tenant_id, endpoint_id, url, event_type, payload, receiver, next_attempt_at)
     select 'msg_adaptive' || lpad(i::text, 7, '0'), $1, $2, $3, 'job.succeeded',
            jsonb_build_object('type', 'job.succeeded', 'data', jsonb_build_object('n', i)), $2,
            to_timestamp($5::float / 1000) + i * interval '1 microsecond'
       from generate_series(1, $4) i`,
    [tenant.rows[0]?.tenant_id, endpointId, `${url}/hook`, count, start],
  );
  await database.db.query('vacuum (analyze) messages');
  return { start, count, refused: 0 };
}

/** Echo jobs for the receiver, each with a runAt: they fall due at `rate` a second from the start. */
async function submitJobs(client: Api, c: Case, endpointId: string) {
  const count = Math.round(c.rate * SECONDS);
  // Intake runs at several thousand a second here: the first job falls due after the last is submitted.
  const start = Date.now() + Math.ceil(count / 2.5) + 3_000;
  const submitted = await submitMany(
    client,
    count,
    (i) => ({
      type: 'echo',
      input: { n: i },
      endpointId,
      runAt: new Date(start + (i * 1000) / c.rate).toISOString(),
    }),
    32,
  );
  const refused = [...submitted.refused.values()].reduce((a, b) => a + b, 0);
  return { start, count, refused };
}

async function runCase(serverUrl: string, serviceEnv: Record<string, string>, c: Case) {
  const loadAverage = os.loadavg()[0] ?? 0;
  const database = await freshDatabase(serverUrl, 'hookrelay_bench');
  const env = {
    DATABASE_URL: database.url,
    ...serviceEnv,
    DELIVERY_CONCURRENCY: '200',
    // The per-process limit of an engine without per-endpoint settings, the default maxConcurrency of one with.
    DELIVERY_ENDPOINT_CONCURRENCY: String(c.endpoint.maxConcurrency),
    DELIVERY_RETRY_SCHEDULE: RETRY_SCHEDULE,
  };
  const receiver = await startSimulatedReceiver(c.phases);
  const apiService = await startService(`adaptive ${c.name} api`, { ...env, HOOKRELAY_ROLE: 'api' });
  const worker = await startService(`adaptive ${c.name} worker`, { ...env, HOOKRELAY_ROLE: 'worker' });
  const { key, endpoints } = await tenantWithEndpoints(apiService.base, [receiver], c.endpoint);
  const endpointId = endpoints[0] as string;
  const client = api(apiService.base, key, 32);
  const created = await client.call<Record<string, unknown>>('GET', `/v1/endpoints/${endpointId}`);
  const fieldsKnown = created.body.maxConcurrency === c.endpoint.maxConcurrency;

  const load =
    LOAD === 'backlog'
      ? await writeBacklog(database, c, endpointId, receiver.url)
      : await submitJobs(client, c, endpointId);
  const { start } = load;
  const late = Date.now() - start;
  if (late > 0) console.log(`adaptive ${c.name}: the load was ready ${late} ms after the start`);
  await until(start);
  await receiver.start(start);

  const samples: Sample[] = [];
  let sampling = true;
  let n = 0;
  const sampler = (async () => {
    while (sampling) {
      const due = start + n * SAMPLE_MS;
      await until(due);
      const readView = n % 4 === 0;
      n++;
      const [text, view, row] = await Promise.all([
        fetch(`${worker.base}/metrics`)
          .then((r) => r.text())
          .catch(() => ''),
        readView
          ? client
              .call<{ concurrency?: { limit: number; inFlight: number } }>(
                'GET',
                `/v1/endpoints/${endpointId}`,
              )
              .then((r) => r.body.concurrency)
              .catch(() => undefined)
          : undefined,
        database.db
          .query<{
            open: boolean;
            paused: boolean;
            reported_limit: number | null;
            reported_in_flight: number | null;
          }>(
            `select coalesce(e.circuit_open_until > now(), false) as open,
                    coalesce(e.paused_until > now(), false) as paused,
                    (select sum(concurrency_limit)::int from receiver_concurrency
                      where reported_at > now() - interval '5 seconds') as reported_limit,
                    (select sum(in_flight)::int from receiver_concurrency
                      where reported_at > now() - interval '5 seconds') as reported_in_flight
               from endpoints e where e.id = $1`,
            [endpointId],
          )
          .then((r) => r.rows[0])
          .catch(() => undefined),
      ]);
      // Per receiver in the worker's /metrics if it says; else what it reports (about once a second) to
      // receiver_concurrency, which the endpoint view sums. Only one receiver here: the process's in flight is its.
      const labels = { receiver: endpointId };
      const limit =
        metric(text, 'hookrelay_delivery_concurrency_limit', labels) ??
        row?.reported_limit ??
        view?.limit ??
        Number.NaN;
      const inFlight =
        metric(text, 'hookrelay_delivery_in_flight', labels) ??
        metric(text, 'hookrelay_delivery_in_flight') ??
        row?.reported_in_flight ??
        Number.NaN;
      samples.push({
        t: (due - start) / 1000,
        limit,
        inFlight,
        ...(view && { view }),
        circuitOpen: row?.open ?? false,
        paused: row?.paused ?? false,
      });
    }
  })();
  for (let s = 5; s < SECONDS; s += 5) {
    await until(start + s * 1000);
    const p = await receiver.progress();
    const last = samples.at(-1);
    console.log(
      `adaptive ${c.name} ${s} s: ${p.ok} 2xx, ${p.rejected} 503s, receiver in flight ${p.inFlight}, limit ${last?.limit}, engine in flight ${last?.inFlight}`,
    );
  }
  await until(start + SECONDS * 1000);
  sampling = false;
  await sampler;
  const metricsText = await fetch(`${worker.base}/metrics`)
    .then((r) => r.text())
    .catch(() => '');
  const received = await receiver.result();
  await client.close();
  await worker.stop();
  await apiService.stop();
  const serviceErrors = [...apiService.errors, ...worker.errors];

  const { rows: attempts } = await database.db.query<{
    at: number;
    duration_ms: number;
    response_status: number | null;
    error: string | null;
  }>(
    `select (extract(epoch from attempted_at) * 1000 - $1) / 1000 as at, duration_ms, response_status, error
       from attempts order by attempted_at`,
    [start],
  );
  const { rows: messages } = await database.db.query<{ status: string; n: number }>(
    'select status, count(*)::int as n from messages group by status',
  );
  await database.drop();
  await receiver.close();

  return summarise(c, {
    samples,
    received,
    attempts: attempts.map((a) => ({ ...a, at: Number(a.at) })),
    messages: Object.fromEntries(messages.map((m) => [m.status, m.n])),
    fieldsKnown,
    load:
      LOAD === 'backlog' ? `${load.count} messages due at the start` : `${load.count} jobs at ${c.rate}/s`,
    refused: load.refused,
    late,
    loadAverage,
    attemptOutcomes: counters(metricsText, 'hookrelay_delivery_attempts_total'),
    limitChanges: counters(metricsText, 'hookrelay_delivery_concurrency_changes_total'),
    serviceErrors,
  });
}

interface Measured {
  samples: Sample[];
  received: ReceiverResult;
  attempts: Array<{ at: number; duration_ms: number; response_status: number | null; error: string | null }>;
  messages: Record<string, number>;
  fieldsKnown: boolean;
  load: string;
  refused: number;
  late: number;
  /** The machine's 1-minute load average when the case began (2 cores: another run's load shows here). */
  loadAverage: number;
  attemptOutcomes: Record<string, number>;
  limitChanges: Record<string, number>;
  serviceErrors: string[];
}

/** Spans of consecutive samples for which `on` holds, for shading. */
function spans(samples: Sample[], on: (s: Sample) => boolean) {
  const out: Array<{ from: number; to: number }> = [];
  for (const s of samples) {
    const last = out.at(-1);
    if (!on(s)) continue;
    if (last && Math.abs(last.to - s.t) < SAMPLE_MS / 1000 + 1e-6) last.to = s.t + SAMPLE_MS / 1000;
    else out.push({ from: s.t, to: s.t + SAMPLE_MS / 1000 });
  }
  return out;
}

function summarise(c: Case, m: Measured) {
  const half = SECONDS / 2;
  const perBucket = BUCKET_MS / 1000;
  const buckets = m.received.buckets.slice(0, Math.round(SECONDS / perBucket));
  const halves = c.phases.map((phase, i) => {
    const from = phase.at;
    const to = c.phases[i + 1]?.at ?? SECONDS;
    const settled = from + CONVERGENCE_S;
    const inHalf = buckets.filter((_, k) => k * perBucket >= settled && k * perBucket < to);
    const ok = inHalf.reduce((a, b) => a + b.ok, 0);
    const rejected = inHalf.reduce((a, b) => a + b.rejected, 0);
    const whole = buckets.filter((_, k) => k * perBucket >= from && k * perBucket < to);
    const wholeOk = whole.reduce((a, b) => a + b.ok, 0);
    const wholeRejected = whole.reduce((a, b) => a + b.rejected, 0);
    const goodput = ok / (to - settled);
    const served = inHalf.reduce((a, b) => a + b.servedMs, 0) / Math.max(1, ok);
    const tried = m.attempts.filter((a) => a.at >= from && a.at < to);
    const durations = tried.map((a) => a.duration_ms);
    const noAnswer = tried.filter((a) => a.response_status === null);
    const limits = m.samples.filter((s) => s.t >= settled && s.t < to).map((s) => s.limit);
    const flights = m.samples.filter((s) => s.t >= settled && s.t < to).map((s) => s.inFlight);
    return {
      from,
      to,
      capacityPerSecond: round(capacityOf(phase)),
      /** What maxConcurrency allows at this pace (Little's law): below capacity, it is the bound. */
      maxConcurrencyBoundPerSecond: round((c.endpoint.maxConcurrency * 1000) / phase.serviceMs),
      parallel: phase.parallel,
      serviceMs: phase.serviceMs,
      goodputPerSecond: round(goodput),
      ofCapacity: round(goodput / capacityOf(phase), 3),
      /** The receiver's own pace: its 2xx's mean time served, which timers make a little longer than serviceMs. */
      meanServedMs: round(served, 2),
      /** At the receiver: after the convergence time, and over the whole half. */
      receiverAnswers: {
        ok,
        rejected503: rejected,
        rejectedShare: round(rejected / Math.max(1, ok + rejected), 4),
        wholeHalf: {
          ok: wholeOk,
          rejected503: wholeRejected,
          rejectedShare: round(wholeRejected / Math.max(1, wholeOk + wholeRejected), 4),
        },
      },
      attempts: {
        total: tried.length,
        ok: tried.filter((a) => (a.response_status ?? 0) >= 200 && (a.response_status ?? 0) < 300).length,
        status503: tried.filter((a) => a.response_status === 503).length,
        noAnswer: noAnswer.length,
        noAnswerErrors: [...new Set(noAnswer.map((a) => a.error))].slice(0, 3),
        p50: percentile(durations, 50),
        p95: percentile(durations, 95),
        p99: percentile(durations, 99),
      },
      limit: {
        median: percentile(limits, 50),
        mean: round(mean(limits), 1),
        min: Math.min(...limits),
        max: Math.max(...limits),
      },
      engineInFlightMean: round(mean(flights), 1),
      /** At the receiver: requests received and not yet answered, and those being served, on average. */
      receiverInFlightMean: round(
        inHalf.reduce((a, b) => a + b.inFlightMs, 0) / (inHalf.length * BUCKET_MS),
        1,
      ),
      receiverServingMean: round(
        inHalf.reduce((a, b) => a + b.servingMs, 0) / (inHalf.length * BUCKET_MS),
        1,
      ),
    };
  });
  const all = buckets.reduce(
    (acc, b) => ({
      ok: acc.ok + b.ok,
      rejected: acc.rejected + b.rejected,
      aborted: acc.aborted + b.aborted,
    }),
    { ok: 0, rejected: 0, aborted: 0 },
  );
  const rejectedShare = all.rejected / Math.max(1, all.ok + all.rejected);
  const views = m.samples.flatMap((s) => (s.view ? [{ t: s.t, ...s.view }] : []));
  const circuit = spans(m.samples, (s) => s.circuitOpen);
  const paused = spans(m.samples, (s) => s.paused);

  const result = {
    case: c.name,
    title: c.title,
    endpoint: c.endpoint,
    endpointFieldsKnown: m.fieldsKnown,
    load: m.load,
    refusedJobs: m.refused,
    loadReadyLateMs: Math.max(0, m.late),
    loadAverageAtStart: round(m.loadAverage, 2),
    halves,
    receiver: {
      ...all,
      rejectedShare: round(rejectedShare, 4),
      early: m.received.early,
      duplicates: m.received.duplicates,
    },
    messagesAfter: m.messages,
    attemptOutcomes: m.attemptOutcomes,
    limitChanges: m.limitChanges,
    circuitOpenSeconds: round(
      circuit.reduce((a, s) => a + s.to - s.from, 0),
      2,
    ),
    pausedSeconds: round(
      paused.reduce((a, s) => a + s.to - s.from, 0),
      2,
    ),
    endpointView: views.length > 0 ? views : 'no concurrency in the endpoint view',
    serviceErrorLines: m.serviceErrors.length,
    serviceErrors: m.serviceErrors.slice(0, 5),
  };

  const label = `${c.name}`;
  const rows: Row[] = halves.map((h, i) => ({
    scenario: `adaptive: ${label}, ${i === 0 ? '1st' : '2nd'} half`,
    throughput: h.goodputPerSecond,
    ratio: h.ofCapacity,
    p50: h.attempts.p50,
    p95: h.attempts.p95,
    p99: h.attempts.p99,
    errors: h.attempts.status503 + h.attempts.noAnswer,
    note: `capacity ${h.capacityPerSecond}/s (${h.parallel} × ${h.serviceMs} ms)${h.maxConcurrencyBoundPerSecond < h.capacityPerSecond ? `, maxConcurrency allows ${h.maxConcurrencyBoundPerSecond}/s` : ''}; in flight: receiver ${h.receiverInFlightMean}, worker ${h.engineInFlightMean}; limit median ${h.limit.median} (${h.limit.min}–${h.limit.max}); ${h.attempts.status503} 503s (${round((100 * h.attempts.status503) / Math.max(1, h.attempts.total), 1)} %), ${h.attempts.noAnswer} unanswered of ${h.attempts.total} attempts`,
  }));

  const seconds = buckets.map((_, k) => k * perBucket);
  const perSecond = (pick: (b: Bucket) => number): Array<[number, number]> =>
    buckets.map((b, k) => [seconds[k] as number, pick(b) / perBucket]);
  const step = (pick: (p: Phase) => number): Array<[number, number]> => c.phases.map((p) => [p.at, pick(p)]);
  /** Per second over whole seconds (slow answers come in waves that 250 ms buckets show as a sawtooth). */
  const eachSecond = (pick: (b: Bucket) => number): Array<[number, number]> =>
    Array.from({ length: SECONDS }, (_, s) => {
      const inSecond = buckets.slice(s / perBucket, (s + 1) / perBucket);
      return [s + 0.5, inSecond.reduce((a, b) => a + pick(b), 0)];
    });
  const latency = (p: number): Array<[number, number]> =>
    Array.from({ length: SECONDS }, (_, s) => {
      const inSecond = m.attempts.filter((a) => a.at >= s && a.at < s + 1).map((a) => a.duration_ms);
      return [s + 0.5, inSecond.length > 0 ? percentile(inSecond, p) : Number.NaN];
    });
  const concurrency: TimelineSeries[] = [
    {
      label: 'limit (worker)',
      color: '#1c7ed6',
      points: m.samples.map((s) => [s.t, s.limit]),
      step: true,
      width: 2,
    },
    { label: 'in flight (worker)', color: '#74c0fc', points: m.samples.map((s) => [s.t, s.inFlight]) },
    {
      label: 'in flight (receiver, mean)',
      color: '#868e96',
      points: buckets.map((b, k) => [seconds[k] as number, b.inFlightMs / BUCKET_MS]),
    },
    {
      label: 'receiver serves at once',
      color: '#2b8a3e',
      points: step((p) => p.parallel),
      step: true,
      dashed: true,
    },
  ];
  if (c.name !== 'slowdown')
    concurrency.push({
      label: '503 beyond',
      color: '#c92a2a',
      points: step((p) => rejectAbove(p)),
      step: true,
      dashed: true,
    });
  const panels = [
    { label: 'requests at once', series: concurrency },
    {
      label: 'per second',
      series: [
        { label: 'goodput (2xx)', color: '#2b8a3e', points: perSecond((b) => b.ok), width: 1.8 },
        { label: '503s', color: '#c92a2a', points: perSecond((b) => b.rejected) },
        {
          label: 'capacity',
          color: '#000',
          points: step((p) => capacityOf(p)),
          step: true,
          dashed: true,
        },
        ...(c.name === 'slowdown'
          ? [
              {
                label: 'maxConcurrency allows',
                color: '#1c7ed6',
                points: step((p) => (c.endpoint.maxConcurrency * 1000) / p.serviceMs),
                step: true,
                dashed: true,
              },
            ]
          : []),
      ],
      ...(c.name === 'slowdown' && {
        max: Math.ceil(Math.max(...perSecond((b) => b.ok).map(([, v]) => v)) * 1.1),
      }),
    },
  ];
  if (c.name === 'slowdown') {
    const slow = c.phases.at(-1) as Phase;
    panels.push({
      label: `per second (1 s, to ${Math.round(1.5 * capacityOf(slow))})`,
      max: Math.round(1.5 * capacityOf(slow)),
      series: [
        { label: 'goodput (2xx)', color: '#2b8a3e', points: eachSecond((b) => b.ok), width: 1.8 },
        { label: 'capacity', color: '#000', points: step((p) => capacityOf(p)), step: true, dashed: true },
        {
          label: 'maxConcurrency allows',
          color: '#1c7ed6',
          points: step((p) => (c.endpoint.maxConcurrency * 1000) / p.serviceMs),
          step: true,
          dashed: true,
        },
      ],
    });
  }
  if (c.name === 'slowdown')
    panels.push({
      label: 'attempt ms (per s)',
      series: [
        { label: 'p50', color: '#2b8a3e', points: latency(50), width: 1.8 },
        { label: 'p99', color: '#c92a2a', points: latency(99), width: 1.8 },
      ],
    });
  const svg = timelinePlot({
    title: `hookrelay adaptive concurrency: ${c.title}`,
    panels,
    from: 0,
    to: SECONDS,
    markers: [{ at: half, label: c.name === 'slowdown' ? 'slows down' : 'capacity halved' }],
    spans: [
      ...circuit.map((s) => ({ ...s, label: 'circuit open' })),
      ...paused.map((s) => ({ ...s, label: 'paused', color: '#fff3bf' })),
    ],
  });
  return { rows, result, svg };
}

export async function adaptiveScenario(
  serverUrl: string,
  serviceEnv: Record<string, string>,
): Promise<{ rows: Row[]; report: Record<string, unknown> }> {
  const engine = engineState();
  const rows: Row[] = [];
  const results: Record<string, ReturnType<typeof summarise>['result']> = {};
  const files: string[] = [];
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = path.join(import.meta.dirname, 'results');
  await fs.mkdir(dir, { recursive: true });
  for (const c of cases()) {
    console.log(
      `adaptive ${c.name}: ${c.title}; ${SECONDS} s, ${LOAD === 'backlog' ? 'a backlog due at the start' : `${c.rate} jobs/s`}; load average ${os.loadavg()[0]?.toFixed(2)}`,
    );
    const out = await runCase(serverUrl, serviceEnv, c);
    rows.push(...out.rows);
    results[c.name] = out.result;
    const file = path.join(dir, `adaptive-${c.name}-${stamp}.svg`);
    await fs.writeFile(file, out.svg);
    files.push(path.relative(process.cwd(), file));
    console.log(`written: ${path.relative(process.cwd(), file)}`);
  }
  const targets: Array<{ target: string; value: number; pass: boolean }> = [];
  const adaptive = results.adaptive;
  if (adaptive) {
    for (const [i, h] of adaptive.halves.entries())
      targets.push({
        target: `adaptive: goodput ≥ 90 % of capacity, ${i === 0 ? '1st' : '2nd'} half (after ${CONVERGENCE_S} s)`,
        value: h.ofCapacity,
        pass: h.ofCapacity >= 0.9,
      });
    targets.push({
      target: 'adaptive: 503s < 2 % of attempts (the whole run, at the receiver)',
      value: adaptive.receiver.rejectedShare,
      pass: adaptive.receiver.rejectedShare < 0.02,
    });
  }
  for (const t of targets) console.log(`${t.pass ? 'met   ' : 'MISSED'} ${t.target}: ${t.value}`);
  // Each case side by side: goodput per half as a share of capacity, and 503s at the receiver.
  const summary = Object.fromEntries(
    Object.entries(results).map(([name, r]) => [
      name,
      {
        goodputOfCapacity: r.halves.map((h) => h.ofCapacity),
        rejectedShareByHalf: r.halves.map((h) => h.receiverAnswers.wholeHalf.rejectedShare),
        rejectedShare: r.receiver.rejectedShare,
        limitMedianByHalf: r.halves.map((h) => h.limit.median),
      },
    ]),
  );
  for (const [name, line] of Object.entries(summary))
    console.log(`adaptive ${name}: ${JSON.stringify(line)}`);
  return {
    rows,
    report: {
      engine,
      settings: {
        seconds: SECONDS,
        serviceMs: SERVICE_MS,
        load: LOAD,
        overload: OVERLOAD,
        engineRate: ENGINE_RATE,
        slowdownRate: SLOWDOWN_RATE,
        rejectFactor: REJECT_FACTOR,
        convergenceSeconds: CONVERGENCE_S,
        retrySchedule: RETRY_SCHEDULE,
        processes: '1 api + 1 worker (limits are per dispatching process; several workers add theirs up)',
      },
      targets,
      summary,
      cases: results,
      plots: files,
    },
  };
}
