// `npm run bench -- backlog`: what a dead receiver's backlog costs everybody else. One all-in-one service on a
// fresh database, a tenant with two endpoints: one whose receiver never answers (each attempt waits out
// DELIVERY_TIMEOUT) and the benchmark's healthy receiver. The healthy endpoint takes BENCH_BACKLOG_RATE jobs/s
// for BENCH_BACKLOG_SECONDS alone; then BENCH_BACKLOG_MESSAGES messages fall due for the hung one (written
// straight into its queue, as a day of outage leaves them) and the same load runs again beside them. Reported:
// submit-to-webhook p50/p99 for the healthy receiver alone and beside the backlog, the delivery claim
// statement's cost from pg_stat_statements (when the server loads it), and how long disabling the hung endpoint
// takes to answer and its drain to finish.
import type pg from 'pg';
import {
  api,
  freshDatabase,
  offer,
  percentile,
  receiver,
  type Service,
  sleep,
  startService,
  tenantWithEndpoints,
} from '../test/chaos/harness.ts';
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
    await database.db.query('analyze messages');
    await sleep(2_000); // the dispatcher takes its share of the hung receiver's and waits on it
    const statements = await database.db
      .query('create extension if not exists pg_stat_statements; select pg_stat_statements_reset()')
      .then(
        () => true,
        () => false,
      );
    const beside = await load(service, tenant.key, healthyId, healthy);
    const claims = statements ? await claimStatement(database.db) : { note: 'pg_stat_statements not loaded' };

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
    const dead = (
      await database.db.query(
        "select count(*)::int as n from dead_letters where endpoint_id = $1 and reason = 'endpoint_disabled'",
        [hungId],
      )
    ).rows[0].n as number;

    const p99Alone = percentile(alone.latencies, 99);
    const p99Beside = percentile(beside.latencies, 99);
    const rows: Row[] = [
      {
        scenario: `healthy receiver alone, ${RATE} jobs/s`,
        throughput: RATE,
        p50: percentile(alone.latencies, 50),
        p95: percentile(alone.latencies, 95),
        p99: p99Alone,
        errors: alone.errors,
      },
      {
        scenario: `beside ${MESSAGES} due for a hung one`,
        throughput: RATE,
        ratio: +(p99Beside / p99Alone).toFixed(2),
        p50: percentile(beside.latencies, 50),
        p95: percentile(beside.latencies, 95),
        p99: p99Beside,
        errors: beside.errors,
        note: `p99 ratio to alone; claim statement ${JSON.stringify(claims)}`,
      },
      {
        scenario: 'disable the hung endpoint',
        throughput: 0,
        errors: disabled.status === 200 ? 0 : 1,
        note: `answered in ${disableMs} ms; drain dead-lettered ${dead} in ${drainSeconds} s`,
      },
    ];
    return {
      rows,
      report: { claims, disableMs, drainSeconds, deadLettered: dead, p99Alone, p99Beside },
    };
  } finally {
    await service.stop();
    await hung.close();
    await database.drop();
  }
}
