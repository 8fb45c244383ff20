// `npm run bench -- ordering`: what ordering keys cost, and whether they hold (migration 0014). Runs of two kinds,
// each on a fresh database with an API process and BENCH_ORDERING_WORKERS worker processes, one endpoint on this
// file's own receiver (on its own thread, as bench/receiver.ts), BENCH_ORDERING_JOBS echo jobs submitted flat out:
//
// - unkeyed: the baseline, delivered/s from the first submission to the last arrival;
// - keyed: the jobs round-robin over BENCH_ORDERING_KEYS ordering keys (key k's n-th job carries sequence n in
//   its metadata, which the webhook carries as data.metadata), and the receiver answers 503 to every request
//   of one key until BENCH_ORDERING_FAIL_SECONDS after the run's first submission, then 200.
//
// BENCH_ORDERING_ROUNDS rounds of one of each, in alternating order (ABBA), so that drift weighs on both kinds.
//
// The issue's targets: every key's messages arrive in order (a key's first arrivals are its sequence 0, 1, 2 …
// with no gap; at-least-once may repeat one, counted apart); the other keys' delivered/s (from the first
// submission to the last of their arrivals, over all the keyed runs) within 10 % of the unkeyed runs'; the failing key resumes, in
// order, when the receiver recovers. The retry schedule is short enough that the failing head is tried every
// 10 s or so, and long enough that it is never dead-lettered inside the failure window. Writes
// bench/results/ordering-<time>.svg: the share of each group's messages delivered over time, and the endpoint's
// concurrency limit. Other settings for diagnosis: BENCH_ORDERING_HOLD_SECONDS (time a backlog's drain, not a
// submission-bound run), BENCH_ORDERING_ENDPOINT, BENCH_ORDERING_FAIL_STATUS, BENCH_ORDERING_FAIL_RETRY_AFTER,
// BENCH_ORDERING_WORKERS, BENCH_ORDERING_WARMUP.
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isMainThread, type MessagePort, parentPort, Worker, workerData } from 'node:worker_threads';
import { type FreshDatabase, freshDatabase } from '../harness/database.ts';
import {
  type Api,
  api,
  percentile,
  type Submitted,
  submitMany,
  tenantWithEndpoints,
} from '../harness/load.ts';
import { type Service, startService } from '../harness/service.ts';
import { type CpuReading, perDelivery, readCpu } from './cpu.ts';
import type { BenchReceiver } from './receiver.ts';
import type { Row } from './run.ts';
import { timelinePlot } from './timeline-plot.ts';

const JOBS = Number(process.env.BENCH_ORDERING_JOBS ?? 10_000);
const KEYS = Number(process.env.BENCH_ORDERING_KEYS ?? 1_000);
const FAIL_SECONDS = Number(process.env.BENCH_ORDERING_FAIL_SECONDS ?? 60);
/** Jobs delivered on each run's services before its measured burst (not counted). */
const WARMUP = Number(process.env.BENCH_ORDERING_WARMUP ?? 500);
/**
 * 0: jobs are due as submitted, and each run is timed from its first submission (submission-bound: the
 * deliveries can go no faster than the API takes jobs). More: every job is submitted with a runAt this many
 * seconds after the first submission, and each run (the failure window too) is timed from then: a backlog's
 * drain, which the delivery path alone bounds.
 */
const HOLD_SECONDS = Number(process.env.BENCH_ORDERING_HOLD_SECONDS ?? 0);
/**
 * The endpoint's settings beyond its URL. By default an endpoint as the API makes one (adaptive concurrency),
 * said outright since the harness's default may differ; BENCH_ORDERING_ENDPOINT='{"adaptiveConcurrency":false}'
 * for a fixed limit (DELIVERY_ENDPOINT_CONCURRENCY per process), say.
 */
const ENDPOINT = JSON.parse(process.env.BENCH_ORDERING_ENDPOINT ?? '{"adaptiveConcurrency":true}') as Record<
  string,
  unknown
>;
const WORKERS = Number(process.env.BENCH_ORDERING_WORKERS ?? 2);
/**
 * Rounds of an unkeyed and a keyed run, in turn's order (unkeyed first in odd rounds, keyed first in even ones).
 * The ratio is of all the rounds' deliveries per second together: in one pair the session's drift (the unkeyed
 * rate alone ranged 936-1,274/s over a day's runs) was as large as what is measured.
 */
const ROUNDS = Number(process.env.BENCH_ORDERING_ROUNDS ?? 2);
/** What the receiver answers the failing key: 503 by default (BENCH_ORDERING_FAIL_STATUS=500, say). */
const FAIL_STATUS = Number(process.env.BENCH_ORDERING_FAIL_STATUS ?? 503);
/** A Retry-After (seconds) on those refusals: none by default. */
const FAIL_RETRY_AFTER = process.env.BENCH_ORDERING_FAIL_RETRY_AFTER;
const CONNECTIONS = 32;
/** The same input as bench/run.ts's: about 1 KiB, so each webhook body is a little over that. */
const INPUT = { note: 'x'.repeat(900) };
const TARGET_RATIO = 0.9;
/** Retry delays are jittered ±20 % (src/delivery/retry-policy.ts). */
const JITTER = 0.2;

/**
 * 1s, 2s, 5s, then 10s as often as it takes for even the shortest jitter of the whole schedule to outlast the
 * failure window by 30 s: the head is tried every 10 s or so, and never dead-lettered while the receiver fails.
 */
const TENS = Math.max(1, Math.ceil(((FAIL_SECONDS + 30) / (1 - JITTER) - 8) / 10));
const RETRY_SCHEDULE = ['1s', '2s', '5s', ...Array.from({ length: TENS }, () => '10s')].join(',');
/** The longest a recovered receiver waits for the head's next attempt, plus a little for the rest to drain. */
const RESUME_BOUND_MS = 10_000 * (1 + JITTER) + 5_000;

const keyOf = (k: number) => `order-${String(k).padStart(4, '0')}`;
const FAILING_KEY = keyOf(0);

// ─── The receiver, on its own thread ────────────────────────────────────────────────────────────────────────

/** One answered request: ordering key ('' for none), sequence, job id, when (ms since the epoch), status. */
type Arrival = [key: string, seq: number, job: string, at: number, status: number];

interface ReceiverCommand {
  kind: 'configure' | 'snapshot';
  failKey?: string;
  failUntil?: number;
}

function receiverThread(port: MessagePort) {
  let failKey: string | undefined;
  let failUntil = 0;
  let arrivals: Arrival[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const at = Date.now();
      let key = '';
      let seq = -1;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as {
          data?: { metadata?: { key?: string | null; seq?: number } };
        };
        key = body.data?.metadata?.key ?? '';
        seq = body.data?.metadata?.seq ?? -1;
      } catch {
        // Counted with seq -1: not a webhook of this benchmark.
      }
      const status = key !== '' && key === failKey && at < failUntil ? FAIL_STATUS : 200;
      arrivals.push([key, seq, String(request.headers['x-job-id']), at, status]);
      response
        .writeHead(status, status !== 200 && FAIL_RETRY_AFTER ? { 'retry-after': FAIL_RETRY_AFTER } : {})
        .end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => port.postMessage({ port: (server.address() as AddressInfo).port }));
  port.on('message', (command: ReceiverCommand) => {
    if (command.kind === 'configure') {
      failKey = command.failKey;
      failUntil = command.failUntil ?? 0;
      arrivals = [];
      port.postMessage('configured');
      return;
    }
    port.postMessage(arrivals);
    arrivals = [];
  });
}

if (!isMainThread && parentPort && workerData === 'ordering-receiver') receiverThread(parentPort);

async function startOrderingReceiver() {
  const worker = new Worker(new URL(import.meta.url), { workerData: 'ordering-receiver' });
  const next = <T>() => new Promise<T>((resolve) => worker.once('message', resolve));
  const { port } = await next<{ port: number }>();
  return {
    url: `http://127.0.0.1:${port}`,
    /** Forgets every arrival; from now, answers FAIL_STATUS to `failKey`'s requests until `failUntil`. */
    async configure(failKey?: string, failUntil?: number) {
      worker.postMessage({ kind: 'configure', failKey, failUntil } satisfies ReceiverCommand);
      await next();
    },
    /** The requests answered since the last snapshot, in the order they were answered. */
    async snapshot() {
      worker.postMessage({ kind: 'snapshot' } satisfies ReceiverCommand);
      return next<Arrival[]>();
    },
    close: () => worker.terminate(),
  };
}
type OrderingReceiver = Awaited<ReturnType<typeof startOrderingReceiver>>;

// ─── Submitting ─────────────────────────────────────────────────────────────────────────────────────────────

interface Job {
  type: 'echo';
  input: typeof INPUT & { i: number };
  endpointId: string;
  orderingKey?: string;
  metadata: { key: string | null; seq: number };
  runAt?: string;
}

/**
 * submitMany for keyed jobs: as fast as `concurrency` requests in flight allow, except that a key's job is sent
 * only once the one before it was answered, so that its sequence is its submission order whatever the sizes
 * (with more keys than requests in flight, as by default, this never waits).
 */
async function submitInKeyOrder(client: Api, count: number, body: (i: number) => Job, concurrency: number) {
  const out: Submitted = { accepted: new Map(), refused: new Map() };
  const answered: Array<Promise<void>> = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const before = answered[i - KEYS];
        let done = () => {};
        answered[i] = new Promise((resolve) => {
          done = resolve;
        });
        await before;
        const at = Date.now();
        const result = await client.call<{ id?: string }>('POST', '/v1/jobs', body(i)).catch(() => undefined);
        if (result?.status === 202 && result.body.id) out.accepted.set(result.body.id, at);
        else out.refused.set(result?.status ?? 0, (out.refused.get(result?.status ?? 0) ?? 0) + 1);
        done();
      }
    }),
  );
  return out;
}

/**
 * WARMUP jobs of the run's kind (keyed: a key each, so none waits), delivered before the measured burst: both
 * runs then start on warm processes and a warm database, whichever runs first.
 */
async function warmUp(client: Api, receiver: OrderingReceiver, endpointId: string, keyed: boolean) {
  if (WARMUP <= 0) return;
  await receiver.configure();
  const warm = await submitMany(
    client,
    WARMUP,
    (i) => ({
      type: 'echo',
      input: { ...INPUT, i },
      endpointId,
      ...(keyed && { orderingKey: `warm-${i}` }),
      metadata: { key: null, seq: i },
    }),
    CONNECTIONS,
  );
  const seen = new Set<string>();
  const deadline = Date.now() + 60_000;
  while (seen.size < warm.accepted.size && Date.now() < deadline) {
    for (const [, , job, , status] of await receiver.snapshot()) if (status === 200) seen.add(job);
    await sleep(100);
  }
}

/** The endpoint's concurrency every half second (limit and in flight, summed over the workers' reports). */
async function sampleLimits(
  client: Api,
  endpointId: string,
  started: number,
  into: Run['limits'],
  stop: AbortSignal,
) {
  while (!stop.aborted) {
    const at = Date.now();
    const view = await client
      .call<{ concurrency?: { limit: number; inFlight: number } }>('GET', `/v1/endpoints/${endpointId}`)
      .catch(() => undefined);
    const c = view?.body.concurrency;
    if (view?.status === 200 && c) into.push([at - started, c.limit, c.inFlight]);
    await sleep(Math.max(0, at + 500 - Date.now()), undefined, { signal: stop }).catch(() => undefined);
  }
}

// ─── One run ────────────────────────────────────────────────────────────────────────────────────────────────

interface Run {
  /** Where the run's clock starts: its first submission, or with HOLD_SECONDS the jobs' runAt. */
  started: number;
  /** From the first submission to the last answer. */
  submittedMs: number;
  submitted: Submitted;
  /** Every answered request, in the order answered. */
  arrivals: Arrival[];
  /** The failing key's queue as GET /v1/messages?orderingKey=&status=pending listed it inside the window. */
  queue?: {
    atMs: number;
    pending: number;
    waiting: number;
    headAttempts: number | undefined;
    /** GET /v1/endpoints/:id/ordering-keys then (undefined: not answered 200). */
    blockedKeys: Array<{ orderingKey: string; pending: number }> | undefined;
  };
  /** [ms since started, limit, in flight]: GET /v1/endpoints/:id's concurrency, every half second. */
  limits: Array<[ms: number, limit: number, inFlight: number]>;
  /** When the other keys' messages had all arrived (the keyed run), or every message. */
  othersDoneMs?: number;
  /** CPU of the services and Postgres from the first submission to then, per message of those. */
  cpu?: ReturnType<typeof perDelivery>;
  database: {
    attempts: number;
    deadLetters: number;
    messagesRetried: number;
    jobsNotSucceeded: number;
    /** The most attempts any message of the failing key took. */
    failingKeyMaxAttempts: number | null;
    lastJobEndedMs: number;
    longestJobPause: { ms: number; fromMs: number } | null;
  };
  serviceErrorLines: number;
}

interface Message {
  orderingKey: string | null;
  waiting: boolean;
  attemptCount: number;
}

async function runOnce(
  name: string,
  serverUrl: string,
  receiver: OrderingReceiver,
  env: Record<string, string>,
  keyed: boolean,
): Promise<Run> {
  const database: FreshDatabase = await freshDatabase(serverUrl, 'hookrelay_bench');
  const services: Service[] = [];
  try {
    const serviceEnv = { ...env, DATABASE_URL: database.url };
    const front = await startService(`ordering ${name} api`, { ...serviceEnv, HOOKRELAY_ROLE: 'api' });
    services.push(front);
    for (let w = 1; w <= WORKERS; w++)
      services.push(
        await startService(`ordering ${name} worker ${w}`, { ...serviceEnv, HOOKRELAY_ROLE: 'worker' }),
      );
    const tenant = await tenantWithEndpoints(front.base, [receiver], ENDPOINT);
    const endpointId = tenant.endpoints[0] as string;
    const client = api(front.base, tenant.key, CONNECTIONS);
    let runAt: string | undefined;
    const body = (i: number): Job => {
      const key = keyed ? keyOf(i % KEYS) : null;
      const seq = keyed ? Math.floor(i / KEYS) : i;
      return {
        type: 'echo',
        input: { ...INPUT, i },
        endpointId,
        ...(key && { orderingKey: key }),
        metadata: { key, seq },
        ...(runAt && { runAt }),
      };
    };

    await warmUp(client, receiver, endpointId, keyed);
    const cpu: CpuReading = readCpu(services.map((s) => s.child.pid));
    const firstSubmission = Date.now();
    const started = firstSubmission + HOLD_SECONDS * 1000;
    if (HOLD_SECONDS > 0) runAt = new Date(started).toISOString();
    await receiver.configure(keyed ? FAILING_KEY : undefined, started + FAIL_SECONDS * 1000);
    const limits: Run['limits'] = [];
    const sampling = new AbortController();
    const sampler = sampleLimits(client, endpointId, started, limits, sampling.signal);
    const submitted = keyed
      ? await submitInKeyOrder(client, JOBS, body, CONNECTIONS)
      : await submitMany(client, JOBS, body, CONNECTIONS);
    const submittedMs = Date.now() - firstSubmission;
    if (HOLD_SECONDS > 0 && Date.now() > started)
      console.log(
        `ordering: submitting took ${seconds(submittedMs)} s, longer than BENCH_ORDERING_HOLD_SECONDS`,
      );

    // Until every accepted job has arrived with a 200, or long after the window and the head's next attempt.
    const failingJobs = keyed ? Math.ceil(JOBS / KEYS) : 0;
    const expectedOthers = submitted.accepted.size - failingJobs;
    const deadline = started + (keyed ? FAIL_SECONDS * 1000 + 120_000 : 300_000);
    const arrivals: Arrival[] = [];
    const delivered = new Set<string>();
    let othersDelivered = 0;
    let othersDoneMs: number | undefined;
    let used: Run['cpu'];
    let queue: Run['queue'];
    while (delivered.size < submitted.accepted.size && Date.now() < deadline) {
      for (const arrival of await receiver.snapshot()) {
        arrivals.push(arrival);
        if (arrival[4] !== 200 || delivered.has(arrival[2])) continue;
        delivered.add(arrival[2]);
        if (arrival[0] !== FAILING_KEY || !keyed) othersDelivered++;
      }
      if (
        othersDoneMs === undefined &&
        othersDelivered >= (keyed ? expectedOthers : submitted.accepted.size)
      ) {
        othersDoneMs = Date.now() - started;
        used = perDelivery(cpu.stop(), othersDelivered);
      }
      // The failing key's queue, once the rest is through and while the receiver still fails it.
      const inWindow = Date.now() < started + FAIL_SECONDS * 1000 - 2_000;
      if (keyed && !queue && othersDoneMs !== undefined && inWindow) {
        const listed = await client.call<{ data: Message[] }>(
          'GET',
          `/v1/messages?orderingKey=${encodeURIComponent(FAILING_KEY)}&status=pending&limit=100`,
        );
        const data = listed.body.data ?? [];
        const head = data.find((m) => !m.waiting);
        // The endpoint's blocked keys: the failing one alone, with its whole queue.
        const blocked = await client.call<{ data?: Array<{ orderingKey: string; pending: number }> }>(
          'GET',
          `/v1/endpoints/${endpointId}/ordering-keys`,
        );
        queue = {
          atMs: Date.now() - started,
          pending: data.length,
          waiting: data.filter((m) => m.waiting).length,
          headAttempts: head?.attemptCount,
          blockedKeys: blocked.status === 200 ? blocked.body.data : undefined,
        };
      }
      await sleep(100);
    }
    sampling.abort();
    await sampler;
    await client.close();

    const [counts] = (
      await database.db.query<Run['database']>(
        `select (select count(*)::int from attempts) as attempts,
                (select count(*)::int from messages where status = 'dead') as "deadLetters",
                (select count(*)::int from messages m where m.attempts + m.earlier_attempts > 1
                    and m.ordering_key is distinct from $1) as "messagesRetried",
                (select count(*)::int from jobs where status <> 'succeeded') as "jobsNotSucceeded",
                (select max(m.attempts + m.earlier_attempts)::int from messages m
                  where m.ordering_key = $1) as "failingKeyMaxAttempts",
                -- When the run's last job ended, from the run's start: the jobs' share of its time.
                (select round(extract(epoch from max(completed_at)) * 1000 - $2)::int from jobs
                  where created_at >= to_timestamp($3 / 1000.0)) as "lastJobEndedMs",
                -- The longest stretch in which none of the run's jobs ended, and when it began.
                (select json_build_object('ms', round(gap)::int, 'fromMs', round(after - $2)::int)
                   from (select extract(epoch from completed_at) * 1000 as at,
                                extract(epoch from lag(completed_at) over (order by completed_at)) * 1000 as after,
                                extract(epoch from completed_at - lag(completed_at) over (order by completed_at)) * 1000 as gap
                           from jobs where created_at >= to_timestamp($3 / 1000.0)) g
                  where gap is not null order by gap desc limit 1) as "longestJobPause"`,
        [FAILING_KEY, started, firstSubmission],
      )
    ).rows;
    return {
      started,
      submittedMs,
      submitted,
      arrivals,
      queue,
      limits,
      othersDoneMs,
      cpu: used,
      database: counts as Run['database'],
      serviceErrorLines: services.reduce((n, s) => n + s.errors.length, 0),
    };
  } finally {
    for (const service of services) await service.stop();
    await database.drop();
  }
}

// ─── What the arrivals say ──────────────────────────────────────────────────────────────────────────────────

interface KeyOrder {
  /** First arrivals (200) not in sequence: some arrived before one with a lower sequence, or skipped one. */
  outOfOrder: boolean;
  missing: number;
  /** 200s for a message that had arrived already. */
  duplicates: number;
  /** Of those, repeats after a later sequence had arrived (allowed: at-least-once; listed apart). */
  lateRepeats: number;
  firsts: Array<[seq: number, at: number]>;
}

/** Per key, whether its first arrivals were its sequence 0, 1, 2 … in order, and what came more than once. */
function orderOf(arrivals: Arrival[], expected: Map<string, number>): Map<string, KeyOrder> {
  const keys = new Map<string, KeyOrder & { seen: Set<number>; highest: number }>();
  for (const key of expected.keys())
    keys.set(key, {
      outOfOrder: false,
      missing: 0,
      duplicates: 0,
      lateRepeats: 0,
      firsts: [],
      seen: new Set(),
      highest: -1,
    });
  for (const [key, seq, , at, status] of arrivals) {
    if (status !== 200) continue;
    const k = keys.get(key);
    if (!k) continue;
    if (k.seen.has(seq)) {
      k.duplicates++;
      if (seq < k.highest) k.lateRepeats++;
      continue;
    }
    if (seq !== k.firsts.length) k.outOfOrder = true;
    k.seen.add(seq);
    k.highest = Math.max(k.highest, seq);
    k.firsts.push([seq, at]);
  }
  for (const [key, k] of keys) k.missing = (expected.get(key) ?? 0) - k.firsts.length;
  return keys;
}

/** Sequences sent per key by run 2 (those whose submission was accepted are all of them, unless refused). */
function expectedPerKey(keyed: boolean): Map<string, number> {
  const expected = new Map<string, number>();
  for (let i = 0; i < JOBS; i++) {
    const key = keyed ? keyOf(i % KEYS) : '';
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  return expected;
}

/** Submit-to-first-arrival latencies (ms) of the given jobs. */
function latencies(run: Run, firstByJob: Map<string, number>, jobs?: Set<string>) {
  return [...run.submitted.accepted].flatMap(([id, at]) => {
    const arrived = firstByJob.get(id);
    // From its submission, or from when it was due, if held (HOLD_SECONDS).
    return arrived === undefined || (jobs && !jobs.has(id)) ? [] : [arrived - Math.max(at, run.started)];
  });
}

/** Cumulative share (%) of `total` delivered over seconds since `started`, at most about 400 points. */
function cumulative(times: number[], started: number, total: number): Array<[number, number]> {
  const sorted = [...times].sort((a, b) => a - b);
  const every = Math.max(1, Math.floor(sorted.length / 400));
  const points: Array<[number, number]> = [[0, 0]];
  sorted.forEach((at, i) => {
    if ((i + 1) % every === 0 || i === sorted.length - 1)
      points.push([(at - started) / 1000, ((i + 1) / Math.max(1, total)) * 100]);
  });
  return points;
}

function limitText(run: Run): string {
  const limit = limitSummary(run);
  return limit ? `${limit.mean} on average (${limit.min}–${limit.max})` : 'not read';
}

/** The endpoint's concurrency limit while the run's other messages were being delivered: mean and range. */
function limitSummary(run: Run) {
  const until = run.othersDoneMs ?? Number.POSITIVE_INFINITY;
  const limits = run.limits.filter(([ms]) => ms >= 0 && ms <= until).map(([, limit]) => limit);
  if (limits.length === 0) return undefined;
  return {
    mean: Math.round((sum(limits) / limits.length) * 10) / 10,
    min: Math.min(...limits),
    max: Math.max(...limits),
    samples: limits.length,
  };
}

/** The longest stretch without a first arrival, between the run's start and its last one, and when it began. */
function longestPause(times: number[], started: number) {
  const sorted = [started, ...times].sort((a, b) => a - b);
  let pause = { ms: 0, fromMs: 0 };
  for (let i = 1; i < sorted.length; i++) {
    const gap = (sorted[i] as number) - (sorted[i - 1] as number);
    if (gap > pause.ms) pause = { ms: gap, fromMs: (sorted[i - 1] as number) - started };
  }
  return pause;
}

const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);
const rate = (count: number, ms: number) => (ms > 0 ? Math.round((count / ms) * 1000) : 0);
const seconds = (ms: number) => Math.round(ms / 100) / 10;

/** What one unkeyed run delivered, and how fast. */
function unkeyedResult(run: Run) {
  const first = firstArrivals(run);
  const last = Math.max(...first.values());
  return {
    run,
    first,
    ms: last - run.started,
    perSecond: rate(first.size, last - run.started),
    latency: latencies(run, first),
    order: orderOf(run.arrivals, expectedPerKey(false)).get('') as KeyOrder,
    refused: sum(run.submitted.refused.values()),
    pause: longestPause([...first.values()], run.started),
  };
}
type UnkeyedResult = ReturnType<typeof unkeyedResult>;

/** What one keyed run delivered: the other keys' pace and order, and how the failing key fared. */
function keyedResult(run: Run) {
  const order = orderOf(run.arrivals, expectedPerKey(true));
  const others = [...order].filter(([key]) => key !== FAILING_KEY).map(([, k]) => k);
  const failing = order.get(FAILING_KEY) as KeyOrder;
  const othersTimes = others.flatMap((k) => k.firsts.map(([, at]) => at));
  const othersLast = Math.max(...othersTimes);
  const first = firstArrivals(run);
  const failingJobs = new Set(
    run.arrivals.filter(([key, , job]) => key === FAILING_KEY && job !== 'undefined').map(([, , job]) => job),
  );
  const othersJobs = new Set([...first.keys()].filter((job) => !failingJobs.has(job)));
  const recovery = run.started + FAIL_SECONDS * 1000;
  const failingTimes = failing.firsts.map(([, at]) => at);
  const refusals = run.arrivals.filter(([key, , , , status]) => key === FAILING_KEY && status !== 200);
  const refusedSeqs = [...new Set(refusals.map(([, seq]) => seq))].sort((a, b) => a - b);
  const failingFirstMs = failingTimes.length > 0 ? Math.min(...failingTimes) - recovery : undefined;
  const failingLastMs = failingTimes.length > 0 ? Math.max(...failingTimes) - recovery : undefined;
  const refused = sum(run.submitted.refused.values());
  const keysOutOfOrder = [...order.values()].filter((k) => k.outOfOrder).length;
  const keysMissing = [...order.values()].filter((k) => k.missing > 0).length;
  return {
    run,
    order,
    others,
    failing,
    othersTimes,
    ms: othersLast - run.started,
    perSecond: rate(othersTimes.length, othersLast - run.started),
    pause: longestPause(othersTimes, run.started),
    latency: latencies(run, first, othersJobs),
    failingTimes,
    refusals,
    refusedSeqs,
    failingFirstMs,
    failingLastMs,
    refused,
    keysOutOfOrder,
    keysMissing,
    inOrder: keysOutOfOrder === 0 && keysMissing === 0 && refused === 0,
    failingResumedInOrder:
      !failing.outOfOrder &&
      failing.missing === 0 &&
      failingFirstMs !== undefined &&
      failingFirstMs >= 0 &&
      failingLastMs !== undefined &&
      failingLastMs <= RESUME_BOUND_MS,
    // While it failed, only its head was tried, and it was never dead-lettered.
    failingHeldAtHead: refusedSeqs.length === 1 && refusedSeqs[0] === 0 && run.database.deadLetters === 0,
  };
}
type KeyedResult = ReturnType<typeof keyedResult>;

/** Each job's first 200, by job id. */
function firstArrivals(run: Run) {
  const first = new Map<string, number>();
  for (const [, , job, at, status] of run.arrivals) if (status === 200 && !first.has(job)) first.set(job, at);
  return first;
}

/** Deliveries per second over several runs together: all they delivered over all their time. */
const pooledRate = (runs: Array<{ ms: number; delivered: number }>) =>
  rate(sum(runs.map((r) => r.delivered)), sum(runs.map((r) => r.ms)));

export async function orderingScenario(
  serverUrl: string,
  // The shared receiver answers 200 to everything: this scenario brings its own.
  _receiver: BenchReceiver | undefined,
  serviceEnv: Record<string, string>,
): Promise<{ rows: Row[]; report: Record<string, unknown> }> {
  const env = { ...serviceEnv, DELIVERY_RETRY_SCHEDULE: RETRY_SCHEDULE };
  const receiver = await startOrderingReceiver();
  const unkeyedRuns: UnkeyedResult[] = [];
  const keyedRuns: KeyedResult[] = [];
  try {
    // Unkeyed then keyed, then keyed then unkeyed, …: a machine that drifts faster or slower through the
    // scenario weighs on both kinds alike.
    for (let round = 1; round <= ROUNDS; round++) {
      for (const keyed of round % 2 === 1 ? [false, true] : [true, false]) {
        if (keyed) {
          console.log(
            `ordering ${round}/${ROUNDS}: ${JOBS} jobs over ${KEYS} keys, ${FAILING_KEY} refused (${FAIL_STATUS}${FAIL_RETRY_AFTER ? `, Retry-After ${FAIL_RETRY_AFTER}` : ''}) for ${FAIL_SECONDS} s; retries ${RETRY_SCHEDULE}`,
          );
          keyedRuns.push(keyedResult(await runOnce(`keyed ${round}`, serverUrl, receiver, env, true)));
        } else {
          console.log(
            `ordering ${round}/${ROUNDS}: ${JOBS} unkeyed jobs, one endpoint, 1 api + ${WORKERS} workers`,
          );
          unkeyedRuns.push(unkeyedResult(await runOnce(`unkeyed ${round}`, serverUrl, receiver, env, false)));
        }
      }
    }
  } finally {
    await receiver.close();
  }

  const unkeyedRate = pooledRate(unkeyedRuns.map((u) => ({ ms: u.ms, delivered: u.first.size })));
  const othersRate = pooledRate(keyedRuns.map((k) => ({ ms: k.ms, delivered: k.othersTimes.length })));
  // Judged unrounded (a 0.897 is a miss), shown to three places.
  const exactRatio = unkeyedRate > 0 ? othersRate / unkeyedRate : 0;
  const ratio = Math.round(exactRatio * 1000) / 1000;
  const unkeyedLatency = unkeyedRuns.flatMap((u) => u.latency);
  const othersLatency = keyedRuns.flatMap((k) => k.latency);
  const othersExpected = JOBS - Math.ceil(JOBS / KEYS);
  const targets = {
    everyKeyInOrder: keyedRuns.every((k) => k.inOrder),
    othersWithin10Percent: exactRatio >= TARGET_RATIO,
    failingKeyResumedInOrder: keyedRuns.every((k) => k.failingResumedInOrder),
    failingKeyHeldAtHead: keyedRuns.every((k) => k.failingHeldAtHead),
  };

  const report = {
    settings: {
      jobs: JOBS,
      keys: KEYS,
      rounds: ROUNDS,
      failingKey: FAILING_KEY,
      failSeconds: FAIL_SECONDS,
      failStatus: FAIL_STATUS,
      failRetryAfter: FAIL_RETRY_AFTER,
      workers: WORKERS,
      warmUpJobs: WARMUP,
      holdSeconds: HOLD_SECONDS,
      endpoint: ENDPOINT,
      retrySchedule: RETRY_SCHEDULE,
      resumeBoundMs: RESUME_BOUND_MS,
    },
    perSecond: { unkeyed: unkeyedRate, others: othersRate, ratio },
    unkeyed: unkeyedRuns.map((u) => ({
      delivered: u.first.size,
      refusedSubmissions: u.refused,
      submitSeconds: seconds(u.run.submittedMs),
      seconds: seconds(u.ms),
      perSecond: u.perSecond,
      latencyMs: {
        p50: percentile(u.latency, 50),
        p95: percentile(u.latency, 95),
        p99: percentile(u.latency, 99),
      },
      duplicates: u.order.duplicates,
      longestDeliveryPause: u.pause,
      concurrencyLimit: limitSummary(u.run),
      cpu: u.run.cpu,
      database: u.run.database,
      serviceErrorLines: u.run.serviceErrorLines,
    })),
    keyed: keyedRuns.map((k) => ({
      refusedSubmissions: k.refused,
      submitSeconds: seconds(k.run.submittedMs),
      keysOutOfOrder: k.keysOutOfOrder,
      keysMissing: k.keysMissing,
      duplicates: sum([...k.order.values()].map((o) => o.duplicates)),
      lateRepeats: sum([...k.order.values()].map((o) => o.lateRepeats)),
      others: {
        keys: k.others.length,
        delivered: k.othersTimes.length,
        expected: othersExpected,
        seconds: seconds(k.ms),
        perSecond: k.perSecond,
        longestDeliveryPause: k.pause,
        latencyMs: {
          p50: percentile(k.latency, 50),
          p95: percentile(k.latency, 95),
          p99: percentile(k.latency, 99),
        },
      },
      failing: {
        delivered: k.failing.firsts.length,
        expected: Math.ceil(JOBS / KEYS),
        inOrder: !k.failing.outOfOrder && k.failing.missing === 0,
        refusedAttempts: k.refusals.length,
        refusedSequences: k.refusedSeqs,
        queueInWindow: k.run.queue,
        firstAfterRecoveryMs: k.failingFirstMs,
        lastAfterRecoveryMs: k.failingLastMs,
      },
      concurrencyLimit: limitSummary(k.run),
      cpu: k.run.cpu,
      database: k.run.database,
      serviceErrorLines: k.run.serviceErrorLines,
    })),
    targets,
  };

  // The plot: the first round's runs.
  const unkeyed = unkeyedRuns[0] as UnkeyedResult;
  const keyed = keyedRuns[0] as KeyedResult;
  const at = new Date().toISOString();
  const file = path.join(import.meta.dirname, 'results', `ordering-${at.replace(/[:.]/g, '-')}.svg`);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(
    file,
    timelinePlot({
      title: `Ordering keys: ${JOBS} jobs to 1 endpoint, unkeyed / over ${KEYS} keys, 1 refused ${FAIL_SECONDS} s`,
      xLabel: `seconds since the run's ${HOLD_SECONDS > 0 ? 'jobs were due' : 'first submission'}`,
      // A little past the last arrival, so that the failing key's step shows.
      to: Math.ceil(
        Math.max(FAIL_SECONDS * 1000, unkeyed.ms, ...keyed.failingTimes.map((t) => t - keyed.run.started)) /
          1000 +
          2,
      ),
      spans: [{ from: 0, to: FAIL_SECONDS, label: `receiver refuses ${FAILING_KEY}` }],
      panels: [
        {
          label: 'share delivered (%)',
          max: 100,
          series: [
            {
              label: 'unkeyed run',
              color: '#1c7ed6',
              points: cumulative([...unkeyed.first.values()], unkeyed.run.started, JOBS),
              dashed: true,
            },
            {
              label: `${keyed.others.length} other keys`,
              color: '#2b8a3e',
              points: cumulative(keyed.othersTimes, keyed.run.started, othersExpected),
            },
            {
              label: 'failing key',
              color: '#c92a2a',
              points: cumulative(keyed.failingTimes, keyed.run.started, Math.ceil(JOBS / KEYS)),
              step: true,
            },
          ],
        },
        {
          label: "endpoint's concurrency",
          series: [
            {
              label: 'limit, unkeyed',
              color: '#1c7ed6',
              // Ends with its run, rather than held to the end of the axis.
              points: [
                ...unkeyed.run.limits.map(([ms, limit]): [number, number] => [ms / 1000, limit]),
                [(unkeyed.run.limits.at(-1)?.[0] ?? 0) / 1000 + 0.5, Number.NaN],
              ],
              step: true,
              dashed: true,
            },
            {
              label: 'limit, keyed',
              color: '#2b8a3e',
              points: keyed.run.limits.map(([ms, limit]) => [ms / 1000, limit]),
              step: true,
            },
            {
              label: 'in flight, keyed',
              color: '#868e96',
              points: keyed.run.limits.map(([ms, , inFlight]) => [ms / 1000, inFlight]),
              width: 1,
            },
          ],
        },
      ],
    }),
  );
  console.log(`written: ${path.relative(process.cwd(), file)}`);

  const mark = (pass: boolean) => (pass ? 'pass' : 'FAIL');
  const range = (values: number[]) =>
    values.length === 0 ? '–' : `${Math.min(...values)}–${Math.max(...values)}`;
  const perRun = (values: Array<number | string>) => values.join(' / ');
  const keysOutOfOrder = sum(keyedRuns.map((k) => k.keysOutOfOrder));
  const keysMissing = sum(keyedRuns.map((k) => k.keysMissing));
  const failingDelivered = keyedRuns.map((k) => k.failing.firsts.length);
  const afterRecovery = (ms: number | undefined) => (ms === undefined ? '–' : String(seconds(ms)));
  const rows: Row[] = [
    {
      scenario: 'ordering: unkeyed',
      throughput: unkeyedRate,
      p50: percentile(unkeyedLatency, 50),
      p95: percentile(unkeyedLatency, 95),
      p99: percentile(unkeyedLatency, 99),
      errors: sum(unkeyedRuns.map((u) => u.refused + (u.run.submitted.accepted.size - u.first.size))),
      note: `${ROUNDS} runs: ${perRun(unkeyedRuns.map((u) => u.perSecond))}/s, ${perRun(unkeyedRuns.map((u) => u.first.size))} of ${JOBS} delivered in ${perRun(unkeyedRuns.map((u) => seconds(u.ms)))} s (last job ended at ${perRun(unkeyedRuns.map((u) => seconds(u.run.database.lastJobEndedMs)))} s), longest pause ${perRun(unkeyedRuns.map((u) => seconds(u.pause.ms)))} s, ${sum(unkeyedRuns.map((u) => u.order.duplicates))} duplicates; endpoint's limit ${unkeyedRuns.map((u) => limitText(u.run)).join(' / ')}; ${unkeyedRuns.map((u) => u.run.cpu?.text ?? 'CPU not read').join(' / ')}`,
    },
    {
      scenario: `ordering: ${keyed.others.length} keys beside 1 failing`,
      throughput: othersRate,
      ratio,
      p50: percentile(othersLatency, 50),
      p95: percentile(othersLatency, 95),
      p99: percentile(othersLatency, 99),
      errors: sum(
        keyedRuns.map((k) => k.refused + (othersExpected - k.othersTimes.length) + k.keysOutOfOrder),
      ),
      note: `${ROUNDS} runs: ${perRun(keyedRuns.map((k) => k.perSecond))}/s (each against its round's unkeyed: ${perRun(keyedRuns.map((k, i) => Math.round((k.perSecond / (unkeyedRuns[i] as UnkeyedResult).perSecond) * 1000) / 1000))}), ${perRun(keyedRuns.map((k) => k.othersTimes.length))} of ${othersExpected} in ${perRun(keyedRuns.map((k) => seconds(k.ms)))} s (last job ended at ${perRun(keyedRuns.map((k) => seconds(k.run.database.lastJobEndedMs)))} s), longest pause ${perRun(keyedRuns.map((k) => seconds(k.pause.ms)))} s (${mark(targets.othersWithin10Percent)}: ≥ ${TARGET_RATIO} of unkeyed); ${keysOutOfOrder} keys out of order, ${keysMissing} with gaps (${mark(targets.everyKeyInOrder)}); ${sum(report.keyed.map((k) => k.duplicates))} duplicates (${sum(report.keyed.map((k) => k.lateRepeats))} after a later one); endpoint's limit ${keyedRuns.map((k) => limitText(k.run)).join(' / ')}; ${keyedRuns.map((k) => k.run.cpu?.text ?? 'CPU not read').join(' / ')}`,
    },
    {
      scenario: 'ordering: failing key resumes',
      // Once its head got through, how fast the rest of its queue followed (the slowest run).
      throughput: Math.min(
        ...keyedRuns.map((k) =>
          k.failingTimes.length > 1
            ? rate(
                k.failingTimes.length - 1,
                Math.max(1, Math.max(...k.failingTimes) - Math.min(...k.failingTimes)),
              )
            : 0,
        ),
      ),
      errors: sum(keyedRuns.map((k) => k.failing.missing + (k.failing.outOfOrder ? 1 : 0))),
      note: `${perRun(failingDelivered)} of ${Math.ceil(JOBS / KEYS)} ${keyedRuns.some((k) => k.failing.outOfOrder) ? 'OUT OF ORDER' : 'in order'}, first ${perRun(keyedRuns.map((k) => afterRecovery(k.failingFirstMs)))} s and last ${perRun(keyedRuns.map((k) => afterRecovery(k.failingLastMs)))} s after recovery (${mark(targets.failingKeyResumedInOrder)}: ≤ ${seconds(RESUME_BOUND_MS)} s); ${range(keyedRuns.map((k) => k.refusals.length))} refusals a run, of sequence ${[...new Set(keyedRuns.flatMap((k) => k.refusedSeqs))].join(',') || '–'} (${mark(targets.failingKeyHeldAtHead)}); queue in the window: ${keyedRuns.map((k) => (k.run.queue ? `${k.run.queue.pending} pending, ${k.run.queue.waiting} waiting; blocked keys listed: ${k.run.queue.blockedKeys?.map((b) => `${b.orderingKey} (${b.pending})`).join(', ') || 'none'}` : 'not read')).join(' / ')}`,
    },
  ];
  return { rows, report };
}
