// `npm run bench -- backlog`: what a dead receiver's backlog costs everybody else. One all-in-one service on a
// fresh database, a tenant with two endpoints: one whose receiver never answers (each attempt waits out
// DELIVERY_TIMEOUT) and the benchmark's healthy receiver. The healthy endpoint takes BENCH_BACKLOG_RATE jobs/s
// for BENCH_BACKLOG_SECONDS alone; then BENCH_BACKLOG_MESSAGES messages fall due for the hung one (written
// straight into its queue, as a day of outage leaves them) and the same load runs again beside them. Reported:
// submit-to-webhook p50/p99 for the healthy receiver alone (before the backlog and after its drain) and beside it, the delivery claim
// statement's cost from pg_stat_statements (when the server loads it), and how long disabling the hung endpoint
// takes to answer and its drain to finish.

import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { freshDatabase } from '../harness/database.ts';
import { api, offer, percentile, tenantWithEndpoints } from '../harness/load.ts';
import { receiver } from '../harness/receiver.ts';
import { type Service, startService } from '../harness/service.ts';
import type { BenchReceiver } from './receiver.ts';
import type { Row } from './run.ts';

const MESSAGES = Number(process.env.BENCH_BACKLOG_MESSAGES ?? 100_000);
const RATE = Number(process.env.BENCH_BACKLOG_RATE ?? 200);
const SECONDS = Number(process.env.BENCH_BACKLOG_SECONDS ?? 30);
const INPUT = { note: 'x'.repeat(900) };

/** Offers the load to the healthy endpoint and returns its submit-to-webhook latencies (ms). */
async function load(service: Service, key: string, endpointId: string, healthy: BenchReceiver) {
  const client = api(service.base, key, 16);
  await healthy.reset();
  const submitted = await offer([client], RATE, SECONDS, (i) => ({
    type: 'echo',
    input: { ...INPUT, i },
    endpointId,
  }));
  const seen = new Map<string, number>();
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && seen.size < submitted.accepted.size) {
    for (const [job, at] of (await healthy.snapshot()).firstByJob) seen.set(job, at);
    await sleep(50);
  }
  await client.close();
  const latencies = [...submitted.accepted].flatMap(([id, at]) => {
    const arrived = seen.get(id);
    return arrived === undefined ? [] : [arrived - at];
  });
  const refused = [...submitted.refused.values()].reduce((a, b) => a + b, 0);
  return { latencies, errors: refused + submitted.accepted.size - latencies.length };
}

/** The statements that took the most server time since the last reset: where the time went beside the backlog. */
async function topStatements(db: pg.Pool) {
  const { rows } = await db.query<{ query: string; calls: string; total: number; mean: number }>(
    `select query, calls, total_exec_time as total, mean_exec_time as mean from pg_stat_statements
      order by total_exec_time desc limit 6`,
  );
  return rows.map((row) => ({
    statement: row.query.replace(/\s+/g, ' ').slice(0, 80),
    calls: Number(row.calls),
    totalMs: Math.round(row.total),
    meanMs: +row.mean.toFixed(3),
  }));
}

/** The delivery claim's figures since the last reset, or why there are none. */
async function claimStatement(db: pg.Pool) {
  try {
    const { rows } = await db.query<{ calls: string; mean: number; stddev: number; max: number }>(
      `select calls, mean_exec_time as mean, stddev_exec_time as stddev, max_exec_time as max
         from pg_stat_statements
        where query like '%after_cursor%' and query like '%update messages%'
        order by calls desc limit 1`,
    );
    const row = rows[0];
    if (!row) return { note: 'no claim recorded' };
    return {
      calls: Number(row.calls),
      meanMs: +row.mean.toFixed(3),
      maxMs: +row.max.toFixed(3),
      // pg_stat_statements keeps no percentiles: under a normal spread, mean + 2.33 standard deviations.
      p99EstimateMs: +(row.mean + 2.33 * row.stddev).toFixed(3),
    };
  } catch (error) {
    return { note: `pg_stat_statements unavailable: ${(error as Error).message}` };
  }
}

export async function backlogScenario(
  serverUrl: string,
  healthy: BenchReceiver,
  serviceEnv: Record<string, string>,
) {
  const database = await freshDatabase(serverUrl);
  const hung = await receiver({ status: 'hang', delayMs: 0 });
  const service = await startService('all-in-one', { ...serviceEnv, DATABASE_URL: database.url });
  try {
    const tenant = await tenantWithEndpoints(service.base, [hung, { url: healthy.url }]);
    const [hungId, healthyId] = tenant.endpoints as [string, string];
    await load(service, tenant.key, healthyId, healthy); // warm-up
    const alone = await load(service, tenant.key, healthyId, healthy);

    await database.db.query(
      `insert into messages (id, tenant_id, endpoint_id, url, event_type, payload, receiver, next_attempt_at)
       select 'msg_backlog' || lpad(i::text, 7, '0'), $1, $2, $3, 'job.succeeded', '{"type":"job.succeeded"}', $2,
              now() - interval '1 hour' + i * interval '1 ms'
         from generate_series(1, $4) i`,
      [tenant.tenantId, hungId, `${hung.url}/hook`, MESSAGES],
    );
    // As a day of outage leaves them: vacuumed and analysed long since. (Left to autovacuum, the vacuum of the
    // freshly written rows runs during the measurement, a one-off cost of loading them all at once.)
    await database.db.query('vacuum (analyze) messages');
    await sleep(2_000); // the dispatcher takes its share of the hung receiver's and waits on it
    const statements = await database.db
      .query('create extension if not exists pg_stat_statements; select pg_stat_statements_reset()')
      .then(
        () => true,
        () => false,
      );
    const beside = await load(service, tenant.key, healthyId, healthy);
    const claims = statements ? await claimStatement(database.db) : { note: 'pg_stat_statements not loaded' };
    const top = statements ? await topStatements(database.db) : [];

    const admin = api(service.base, tenant.key, 1);
    const started = performance.now();
    const disabled = await admin.call('PATCH', `/v1/endpoints/${hungId}`, { disabled: true });
    const disableMs = +(performance.now() - started).toFixed(1);
    await admin.close();
    const drainStarted = Date.now();
    for (;;) {
      const { rows } = await database.db.query(
        "select count(*)::int as n from messages where endpoint_id = $1 and status = 'pending'",
        [hungId],
      );
      if (rows[0].n === 0 || Date.now() - drainStarted > 300_000) break;
      await sleep(200);
    }
    const drainSeconds = +((Date.now() - drainStarted) / 1000).toFixed(1);
    // Alone once more, the backlog gone: the machine is shared, and a slow spell in one window would otherwise
    // pass for the backlog's cost (or hide it). Beside is compared with the mean of the windows either side.
    const after = await load(service, tenant.key, healthyId, healthy);
    const dead = (
      await database.db.query(
        "select count(*)::int as n from dead_letters where endpoint_id = $1 and reason = 'endpoint_disabled'",
        [hungId],
      )
    ).rows[0].n as number;

    const p99Alone = (percentile(alone.latencies, 99) + percentile(after.latencies, 99)) / 2;
    const p99Beside = percentile(beside.latencies, 99);
    const aloneRow = (scenario: string, run: typeof alone): Row => ({
      scenario,
      throughput: RATE,
      p50: percentile(run.latencies, 50),
      p95: percentile(run.latencies, 95),
      p99: percentile(run.latencies, 99),
      errors: run.errors,
    });
    const rows: Row[] = [
      aloneRow(`healthy receiver alone, ${RATE} jobs/s`, alone),
      {
        scenario: `beside ${MESSAGES} due for a hung one`,
        throughput: RATE,
        ratio: +(p99Beside / p99Alone).toFixed(2),
        p50: percentile(beside.latencies, 50),
        p95: percentile(beside.latencies, 95),
        p99: p99Beside,
        errors: beside.errors,
        note: `p99 ratio to alone (mean of before and after); claim statement ${JSON.stringify(claims)}`,
      },
      {
        scenario: 'disable the hung endpoint',
        throughput: 0,
        errors: disabled.status === 200 ? 0 : 1,
        note: `answered in ${disableMs} ms; drain dead-lettered ${dead} in ${drainSeconds} s`,
      },
      aloneRow('healthy receiver alone again, after', after),
    ];
    return {
      rows,
      report: { claims, top, disableMs, drainSeconds, deadLettered: dead, p99Alone, p99Beside },
    };
  } finally {
    await service.stop();
    await hung.close();
    await database.drop();
  }
}
