// `npm run bench -- retention`: what deleting a year of old rows costs the service. One all-in-one service on a
// fresh database holding BENCH_RETENTION_MESSAGES delivered messages (1-2 attempts each, with their jobs, job
// events and an idempotency key per ten jobs) older than RETENTION, BENCH_RETENTION_DEAD_LETTERS dead messages
// with their dead letters, and BENCH_RETENTION_RECENT recent finished jobs that stay. The service takes
// BENCH_RETENTION_RATE jobs/s throughout; the old rows are swept in BENCH_RETENTION_SLICES sweeps (cutoffs a
// slice of the year apart, the last at the real one), each between two windows of BENCH_RETENTION_SECONDS
// without a sweep, and latency is compared between the windows with and without one. Interleaved, because the
// machine is shared: drift in what else runs on it hits both sides alike. A sweep is `deleteOldWork`, the
// statements of the service's scheduled sweep, run from this process on a connection of its own (a sweep is one
// connection's work wherever it runs; from here its batches can be timed).

import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freshDatabase } from '../harness/database.ts';
import { api, offer, percentile, type Submitted, tenantWithEndpoints } from '../harness/load.ts';
import { startService } from '../harness/service.ts';
import { deleteOldWork, type RetentionBatch } from '../src/store/retention.ts';
import type { BenchReceiver } from './receiver.ts';
import type { Row } from './run.ts';

/** A count from the environment; they are written into SQL, so nothing but digits is taken. */
function count(name: string, fallback: number): number {
  const text = process.env[name] ?? String(fallback);
  if (!/^\d+$/.test(text)) throw new Error(`${name} must be a whole number, not ${text}`);
  return Number(text);
}

const MESSAGES = count('BENCH_RETENTION_MESSAGES', 1_000_000);
const DEAD_LETTERS = count('BENCH_RETENTION_DEAD_LETTERS', 100_000);
const RECENT = count('BENCH_RETENTION_RECENT', 100_000);
const RATE = count('BENCH_RETENTION_RATE', 200);
const SECONDS = count('BENCH_RETENTION_SECONDS', 10);
const SLICES = Math.max(1, count('BENCH_RETENTION_SLICES', 5));
/** The RETENTION the sweep applies; the loaded rows are 1 to 365 days older than it. */
const RETENTION_DAYS = 30;
const DAY_MS = 86_400_000;
const INPUT = { note: 'x'.repeat(900) };

/**
 * Time-ordered ids as src/ids.ts makes them (48 bits of milliseconds in Crockford base32, then 16 characters:
 * here the row number), so the loaded rows sort among the service's own as they would had it written them.
 */
const ID_FUNCTION = `
  create function bench_id(prefix text, at timestamptz, n bigint) returns text language sql immutable as $$
    select prefix || '_' || string_agg(
             substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ',
                    ((floor(extract(epoch from at) * 1000)::bigint >> (5 * k)) & 31)::int + 1, 1), '' order by k desc)
           || lpad(n::text, 16, '0')
      from generate_series(0, 9) k
  $$`;

/**
 * The loading statements, in order. `p` is the one row of bench_load: tenant, endpoint, url, input, and `at`,
 * one now for every statement, so that a row's times (and the ids made from them) agree across statements.
 * Sizes are written in as integers.
 */
function loadStatements(): string[] {
  // Old rows: row i of n finished at the cutoff - 1 day - (n - i) / n * 364 days, so ascending i is ascending
  // time; recent ones finished between 29 days and an hour ago.
  const old = `p.at - interval '${RETENTION_DAYS + 1} days' - ((s.n - i)::float / s.n) * interval '364 days'`;
  const recent = `p.at - interval '1 hour' - ((s.n - i)::float / s.n) * interval '${RETENTION_DAYS - 1} days'`;
  const rows = (n: number, offset: number, when: string, step = 1) =>
    `from bench_load p, (select ${n} as n, ${offset} as off) s, generate_series(${step}, s.n, ${step}) i,
          lateral (select ${when} as t) x`;
  const finished = (n: number, offset: number, when: string) => [
    // Jobs with their event and message, and a key for one job in ten.
    `insert into jobs (id, tenant_id, type, status, input, result, endpoint_id, timeout_seconds, max_attempts,
                       attempts, created_at, started_at, completed_at, next_attempt_at)
     select bench_id('job', t, s.off + i), p.tenant, 'echo', 'succeeded', p.input || jsonb_build_object('n', i),
            p.input || jsonb_build_object('n', i), p.endpoint, 60, 3, 1, t, t, t + interval '5 ms', null
     ${rows(n, offset, when)}`,
    `insert into job_events (tenant_id, job_id, event_type, payload, created_at)
     select p.tenant, bench_id('job', t, s.off + i), 'job.succeeded',
            jsonb_build_object('status', 'succeeded', 'result', p.input || jsonb_build_object('n', i)),
            t + interval '5 ms'
     ${rows(n, offset, when)}`,
    // Odd rows failed once (a 500) and were delivered by the retry 30 s later.
    `insert into messages (id, tenant_id, job_id, endpoint_id, url, event_type, payload, status, attempts,
                           last_response_status, next_attempt_at, created_at, delivered_at, receiver)
     select bench_id('msg', t, s.off + i), p.tenant, bench_id('job', t, s.off + i), p.endpoint, p.url,
            'job.succeeded', jsonb_build_object('type', 'job.succeeded', 'data', p.input || jsonb_build_object('n', i)),
            'delivered', 1 + i % 2, 200, null, t + interval '5 ms',
            t + interval '10 ms' + (i % 2) * interval '30 seconds', p.endpoint
     ${rows(n, offset, when)}`,
    `insert into attempts (id, message_id, attempted_at, duration_ms, response_status, response_body)
     select bench_id('att', t + (a - 1) * interval '30 seconds', (s.off + i) * 2 + a),
            bench_id('msg', t, s.off + i), t + interval '5 ms' + (a - 1) * interval '30 seconds', 3,
            case when a = 1 + i % 2 then 200 else 500 end, ''
     ${rows(n, offset, when)}, generate_series(1, 1 + i % 2) a`,
    `insert into idempotency_keys (tenant_id, key, request_hash, job_id, created_at)
     select p.tenant, 'key-' || (s.off + i), '\\x00', bench_id('job', t, s.off + i), t
     ${rows(n, offset, when, 10)}`,
  ];
  return [
    ...finished(MESSAGES, 0, old),
    ...finished(RECENT, MESSAGES, recent),
    // Dead messages (tried five times), kept with their dead letters whatever their age.
    `insert into messages (id, tenant_id, endpoint_id, url, event_type, payload, status, attempts,
                           last_response_status, next_attempt_at, created_at, receiver)
     select bench_id('msg', t, s.off + i), p.tenant, p.endpoint, p.url, 'job.succeeded', p.input, 'dead', 5, 500,
            null, t, p.endpoint
     ${rows(DEAD_LETTERS, 100_000_000, old)}`,
    `insert into dead_letters (id, tenant_id, message_id, endpoint_id, url, event_type, reason, attempts,
                               last_response_status, dead_lettered_at)
     select bench_id('dl', t, i), p.tenant, bench_id('msg', t, s.off + i), p.endpoint, p.url, 'job.succeeded',
            'exhausted', 5, 500, t + interval '1 hour'
     ${rows(DEAD_LETTERS, 100_000_000, old)}`,
    // One old delivered message in a hundred had been dead-lettered, replayed and then delivered: its dead
    // letter goes with it.
    `insert into dead_letters (id, tenant_id, message_id, endpoint_id, url, event_type, reason, attempts,
                               last_response_status, dead_lettered_at, replayed_at, replayed_by)
     select bench_id('dl', t, s.off + i), p.tenant, bench_id('msg', t, i), p.endpoint, p.url, 'job.succeeded',
            'exhausted', 5, 500, t, t, 'operator'
     ${rows(MESSAGES, 100_000_000, old, 100)}`,
  ];
}

/**
 * The loaded rows a sweep must delete (`old_`: none may be left) and keep (the rest: all must stay), given the
 * cutoff ($1) and the end of loading ($2). Keys are counted clear of the 24-hour line, which moves as the run
 * goes on.
 */
const CENSUS = `
  select
    (select count(*) from messages where status = 'delivered' and delivered_at < $1)::int as old_messages,
    (select count(*) from jobs where status = 'succeeded' and completed_at < $1)::int as old_jobs,
    (select count(*) from job_events where created_at < $1)::int as old_events,
    (select count(*) from idempotency_keys where created_at < $2::timestamptz - interval '25 hours')::int
      as old_keys,
    (select count(*) from dead_letters where replayed_at is not null)::int as old_replayed_dead_letters,
    (select count(*) from messages where created_at < $2
        and not (status = 'delivered' and delivered_at < $1))::int as kept_messages,
    (select count(*) from attempts a join messages m on m.id = a.message_id where m.created_at < $2
        and not (m.status = 'delivered' and m.delivered_at < $1))::int as kept_attempts,
    (select count(*) from dead_letters where replayed_at is null)::int as kept_dead_letters,
    (select count(*) from jobs where created_at < $2 and completed_at >= $1)::int as kept_jobs,
    (select count(*) from job_events where created_at >= $1 and created_at < $2)::int as kept_events,
    (select count(*) from idempotency_keys where created_at >= $2::timestamptz - interval '23 hours')::int
      as kept_keys`;

type Census = Record<string, number>;

/** Collects the receiver's first arrival of every job until stopped, then waits for the stragglers. */
function arrivals(receiver: BenchReceiver) {
  const seen = new Map<string, number>();
  const poll = async () => {
    for (const [job, at] of (await receiver.snapshot()).firstByJob) seen.set(job, at);
  };
  let polling = true;
  const loop = (async () => {
    while (polling) {
      await poll();
      await sleep(100);
    }
  })();
  return {
    /** Submit-to-arrival latencies (ms) of `submitted`, waiting up to `timeoutMs` for the last to arrive. */
    async finish(submitted: Submitted[], timeoutMs: number) {
      polling = false;
      await loop;
      const accepted = submitted.flatMap((s) => [...s.accepted]);
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && accepted.some(([id]) => !seen.has(id))) {
        await poll();
        await sleep(100);
      }
    },
    latencies(submitted: Submitted[]) {
      return submitted.flatMap((s) =>
        [...s.accepted].flatMap(([id, at]) => {
          const arrived = seen.get(id);
          return arrived === undefined ? [] : [arrived - at];
        }),
      );
    },
  };
}

function summary(values: number[]) {
  return {
    count: values.length,
    p50: Math.round(percentile(values, 50)),
    p95: Math.round(percentile(values, 95)),
    p99: Math.round(percentile(values, 99)),
    max: Math.round(values.reduce((a, b) => Math.max(a, b), 0)),
  };
}

const pick = ({ p50, p95, p99 }: ReturnType<typeof summary>) => ({ p50, p95, p99 });

function batchSummary(batches: RetentionBatch[]) {
  const ms = batches.map((b) => b.ms);
  return {
    batches: batches.length,
    rows: batches.reduce((n, b) => n + b.deleted, 0),
    p50Ms: Number(percentile(ms, 50).toFixed(1)),
    p99Ms: Number(percentile(ms, 99).toFixed(1)),
    maxMs: Number(ms.reduce((a, b) => Math.max(a, b), 0).toFixed(1)),
  };
}

export async function retentionScenario(
  serverUrl: string,
  receiver: BenchReceiver,
  serviceEnv: Record<string, string>,
): Promise<{ rows: Row[]; report: Record<string, unknown> }> {
  const database = await freshDatabase(serverUrl);
  const service = await startService('retention', { ...serviceEnv, DATABASE_URL: database.url });
  const sweeper = new pg.Pool({
    connectionString: database.url,
    max: 1,
    application_name: 'hookrelay-bench-retention',
  });
  try {
    // The only sweep is the measured one: the service's own schedule would otherwise run at the next quarter
    // hour (its statements, on the same rows) whenever that falls in the run.
    await database.db.query("delete from pgboss.schedule where name = 'hookrelay-retention'");
    const tenant = await tenantWithEndpoints(service.base, [receiver]);
    const endpointId = tenant.endpoints[0] as string;
    const client = api(service.base, tenant.key, 32);
    const body = (i: number) => ({ type: 'echo', input: { ...INPUT, n: i }, endpointId });

    console.log(
      `retention: loading ${MESSAGES} old delivered messages, ${DEAD_LETTERS} dead letters, ${RECENT} recent jobs`,
    );
    const loadStarted = performance.now();
    await database.db.query(ID_FUNCTION);
    await database.db.query(
      'create table bench_load as select $1::text as tenant, $2::text as endpoint, $3::text as url, $4::jsonb as input, now() as at',
      [tenant.tenantId, endpointId, `${receiver.url}/hook`, JSON.stringify(INPUT)],
    );
    for (const sql of loadStatements()) await database.db.query(sql);
    // A year of rows is vacuumed and analysed long before its sweep, and its pages written out.
    await database.db.query(
      'vacuum (analyze) jobs, job_events, messages, attempts, dead_letters, idempotency_keys',
    );
    await database.db.query('checkpoint');
    const loadSeconds = Math.round((performance.now() - loadStarted) / 1000);
    const sizes = await database.db.query<{ name: string; mib: number }>(
      `select relname as name, (pg_total_relation_size(oid) / 1048576)::int as mib from pg_class
        where relname in ('jobs', 'job_events', 'messages', 'attempts', 'dead_letters', 'idempotency_keys')`,
    );
    // What decides how much a sweep writes and how far its dirty pages reach the service: report them with it.
    const server = Object.fromEntries(
      (
        await database.db.query<{ name: string; setting: string }>(
          `select name, current_setting(name) as setting from pg_settings
            where name = any($1) order by name`,
          [['shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'wal_compression', 'data_checksums']],
        )
      ).rows.map((r) => [r.name, r.setting]),
    );
    console.log(`retention: server ${JSON.stringify(server)}`);
    console.log(
      `retention: loaded in ${loadSeconds} s; MiB ${JSON.stringify(Object.fromEntries(sizes.rows.map((r) => [r.name, r.mib])))}`,
    );

    const loadedBefore = new Date();
    const cutoff = new Date(Date.now() - RETENTION_DAYS * DAY_MS);
    const census = async () =>
      (await database.db.query<Census>(CENSUS, [cutoff, loadedBefore])).rows[0] as Census;
    const before = await census();

    const walMiB = async (from: string) =>
      Number(
        (
          await database.db.query<{ mib: string }>(
            'select pg_wal_lsn_diff(pg_current_wal_lsn(), $1) / 1048576 as mib',
            [from],
          )
        ).rows[0]?.mib,
      );
    const lsn = async () =>
      (await database.db.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0]
        ?.lsn as string;

    await offer([client], RATE, 5, body); // warm-up: connections, JIT, caches
    await receiver.reset();
    const collected = arrivals(receiver);
    const quiet: Submitted[] = [];
    const sweeping: Submitted[] = [];
    const batches: RetentionBatch[] = [];
    const deleted = { messages: 0, jobs: 0, jobEvents: 0, idempotencyKeys: 0 };
    const windows: Array<{ sweep: boolean; seconds: number; walMiB: number }> = [];
    /** Offers the load for `seconds`, or for as long as `sweep` runs; records what it submitted and the WAL. */
    const window = async (seconds: number, sweep?: () => Promise<unknown>) => {
      const from = await lsn();
      const started = performance.now();
      const stop = new AbortController();
      const load = offer([client], RATE, seconds, body, undefined, stop.signal);
      await sweep?.().finally(() => stop.abort());
      (sweep ? sweeping : quiet).push(await load);
      windows.push({
        sweep: !!sweep,
        seconds: (performance.now() - started) / 1000,
        walMiB: await walMiB(from),
      });
    };
    // The oldest loaded rows finished a year before the cutoff; each sweep's cutoff is a slice further.
    const oldest = cutoff.getTime() - 365 * DAY_MS;
    for (let slice = 1; slice <= SLICES; slice++) {
      await window(SECONDS);
      const sliceCutoff = slice === SLICES ? cutoff : new Date(oldest + (slice / SLICES) * 365 * DAY_MS);
      await window(3_600, async () => {
        const counts = await deleteOldWork(sweeper, sliceCutoff, { onBatch: (batch) => batches.push(batch) });
        for (const key of Object.keys(deleted) as Array<keyof typeof deleted>) deleted[key] += counts[key];
      });
    }
    await window(SECONDS);
    await collected.finish([...quiet, ...sweeping], 60_000);
    const without = summary(collected.latencies(quiet));
    const during = summary(collected.latencies(sweeping));
    const sum = (sweep: boolean, key: 'seconds' | 'walMiB') =>
      windows.filter((w) => w.sweep === sweep).reduce((n, w) => n + w[key], 0);
    const sweepMs = sum(true, 'seconds') * 1000;
    // The load's own WAL, at its rate without a sweep, is taken off what was written while sweeping.
    const sweepWalMiB = Math.round(
      sum(true, 'walMiB') - (sum(false, 'walMiB') / sum(false, 'seconds')) * sum(true, 'seconds'),
    );

    // One more sweep finds nothing to delete. It starts where the last stopped (retention_progress), not at the
    // index entries of the rows just deleted, which stay until vacuum: its time is what is left of those.
    const againStarted = performance.now();
    const again = await deleteOldWork(sweeper, cutoff);
    const secondSweepMs = Math.round(performance.now() - againStarted);
    const after = await census();

    const tables = ['messages', 'jobs', 'jobEvents', 'idempotencyKeys'] as const;
    const perTable = Object.fromEntries(
      tables.map((table) => [table, batchSummary(batches.filter((b) => b.table === table))]),
    );
    const all = batchSummary(batches);
    const totalDeleted = Object.values(deleted).reduce((a, b) => a + b, 0);
    // Every old row deleted, every kept one still there (old rows counted in the census after are left over).
    const wrong = Object.keys(before).filter((key) =>
      key.startsWith('old_') ? after[key] !== 0 : after[key] !== before[key],
    );
    const ratio = Number((during.p99 / without.p99).toFixed(2));

    console.log('\nretention sweep, per table (batch ms)');
    console.log(
      `${'table'.padEnd(18)}${'rows'.padStart(10)}${'batches'.padStart(9)}${'p50'.padStart(8)}${'p99'.padStart(8)}${'max'.padStart(8)}`,
    );
    for (const [table, s] of [...Object.entries(perTable), ['all', all] as const]) {
      console.log(
        `${table.padEnd(18)}${String(s.rows).padStart(10)}${String(s.batches).padStart(9)}${String(s.p50Ms).padStart(8)}${String(s.p99Ms).padStart(8)}${String(s.maxMs).padStart(8)}`,
      );
    }
    console.log(
      `${SLICES} sweeps, ${Math.round(sweepMs)} ms in all, ${totalDeleted} rows (${Math.round(totalDeleted / (sweepMs / 1000))}/s), WAL ${sweepWalMiB} MiB beyond the load's; one more sweep ${secondSweepMs} ms (${JSON.stringify(again)}); census ${wrong.length === 0 ? 'ok' : `WRONG: ${wrong.join(', ')}`}`,
    );
    console.log(
      `${RATE} jobs/s, p50 / p99 (ms): without a sweep ${without.p50} / ${without.p99} (${without.count} jobs), sweeping ${during.p50} / ${during.p99} (${during.count} jobs); p99 ratio ${ratio}\n`,
    );

    await client.close();
    const failed = (submitted: Submitted[], got: { count: number }) =>
      submitted.reduce(
        (n, s) => n + s.accepted.size + [...s.refused.values()].reduce((a, b) => a + b, 0),
        0,
      ) - got.count;
    const rows: Row[] = [
      {
        scenario: `retention: ${RATE} jobs/s, no sweep`,
        throughput: RATE,
        ...pick(without),
        errors: failed(quiet, without),
        note: `${quiet.length} windows of ${SECONDS} s`,
      },
      {
        scenario: `retention: ${RATE} jobs/s, sweeping`,
        throughput: RATE,
        ratio,
        ...pick(during),
        errors: failed(sweeping, during) + wrong.length,
        note: `p99 ratio to no sweep; ${SLICES} sweeps, ${Math.round(sweepMs / 1000)} s, ${totalDeleted} rows in ${all.batches} batches of p50/p99/max ${all.p50Ms}/${all.p99Ms}/${all.maxMs} ms${wrong.length ? `; census wrong: ${wrong.join(', ')}` : ''}`,
      },
    ];
    return {
      rows,
      report: {
        settings: {
          messages: MESSAGES,
          deadLetters: DEAD_LETTERS,
          recent: RECENT,
          rate: RATE,
          seconds: SECONDS,
          slices: SLICES,
        },
        server,
        loadSeconds,
        tableMiB: Object.fromEntries(sizes.rows.map((r) => [r.name, r.mib])),
        without,
        during,
        p99Ratio: ratio,
        sweep: { ms: Math.round(sweepMs), deleted, walMiB: sweepWalMiB, batches: all, perTable },
        windows: windows.map((w) => ({
          ...w,
          seconds: Number(w.seconds.toFixed(1)),
          walMiB: Math.round(w.walMiB),
        })),
        batchMs: Object.fromEntries(
          tables.map((table) => [
            table,
            batches.filter((b) => b.table === table).map((b) => Number(b.ms.toFixed(1))),
          ]),
        ),
        secondSweep: { ms: secondSweepMs, deleted: again },
        census: { before, after, wrong },
      },
    };
  } finally {
    await sweeper.end();
    await service.stop();
    await database.drop();
  }
}
