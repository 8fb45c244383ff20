// `npm run bench -- schedules`: how late a schedule's job is. BENCH_SCHEDULES every-minute schedules (each job
// delivered to the bench receiver through an endpoint) run for BENCH_SCHEDULE_MINUTES on an API process and two
// worker processes, one Postgres, the default SCHEDULE_CHECK_INTERVAL. Read from the database afterwards: the
// lag from each occurrence (the minute) to its job's creation, and to its webhook's delivery, and whether every
// occurrence made exactly one job. The baseline for the lag is the check interval itself: pg-boss's pass runs
// that often, so a lag near half of it on average, and at most it plus a second of polling, is what the design
// promises.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freshDatabase } from '../harness/database.ts';
import { api, percentile, tenantWithEndpoints } from '../harness/load.ts';
import { startService } from '../harness/service.ts';
import type { BenchReceiver } from './receiver.ts';
import type { Row } from './run.ts';

const SCHEDULES = Number(process.env.BENCH_SCHEDULES ?? 100);
const MINUTES = Number(process.env.BENCH_SCHEDULE_MINUTES ?? 10);
const CHECK_INTERVAL_MS = 5_000;
const MINUTE = 60_000;

export async function schedulesScenario(
  serverUrl: string,
  receiver: BenchReceiver,
  serviceEnv: Record<string, string>,
): Promise<{ rows: Row[]; report: Record<string, unknown> }> {
  const database = await freshDatabase(serverUrl, 'hookrelay_bench');
  const env = { DATABASE_URL: database.url, ...serviceEnv };
  const apiService = await startService('schedules api', { ...env, HOOKRELAY_ROLE: 'api' });
  const workers = [
    await startService('schedules worker 1', { ...env, HOOKRELAY_ROLE: 'worker' }),
    await startService('schedules worker 2', { ...env, HOOKRELAY_ROLE: 'worker' }),
  ];
  const { key, endpoints } = await tenantWithEndpoints(apiService.base, [receiver]);
  const client = api(apiService.base, key, 4);
  for (let i = 0; i < SCHEDULES; i++) {
    const created = await client.call('POST', '/v1/schedules', {
      name: `bench ${i}`,
      cron: '* * * * *',
      overlap: 'allow',
      job: { type: 'echo', input: { schedule: i }, endpointId: endpoints[0] },
    });
    if (created.status !== 201) throw new Error(`schedule refused: ${created.status}`);
  }
  await client.close();
  // Whole minutes only: from the first occurrence after every schedule exists to the last one in the run.
  const from = Math.ceil(Date.now() / MINUTE) * MINUTE;
  const until = from + (MINUTES - 1) * MINUTE;
  console.log(
    `schedules: ${SCHEDULES} every minute, ${MINUTES} occurrences from ${new Date(from).toISOString()}`,
  );
  await sleep(until + 30_000 - Date.now());
  for (const service of [apiService, ...workers]) await service.stop();

  const db = new pg.Client({ connectionString: database.url });
  await db.connect();
  const { rows } = await db.query<{
    occurrence: Date;
    created_at: Date;
    delivered_at: Date | null;
    n: number;
  }>(
    // A job may be dated up to 2 s before its minute (pg-boss's clock a little ahead: src/schedules/occurrence.ts).
    `select date_trunc('minute', j.created_at + interval '2 seconds') as occurrence, j.created_at,
            (select min(m.delivered_at) from messages m where m.job_id = j.id) as delivered_at,
            count(*) over (partition by j.schedule_id, date_trunc('minute', j.created_at + interval '2 seconds'))::int as n
       from jobs j
      where j.schedule_id is not null and j.created_at >= $1 and j.created_at < $2`,
    [new Date(from - 2_000), new Date(until + MINUTE - 2_000)],
  );
  await db.end();
  await database.drop();

  const lags = rows.map((r) => r.created_at.getTime() - r.occurrence.getTime());
  const deliveries = rows
    .filter((r) => r.delivered_at)
    .map((r) => (r.delivered_at as Date).getTime() - r.occurrence.getTime());
  const expected = SCHEDULES * MINUTES;
  const duplicates = rows.filter((r) => r.n > 1).length;
  const report = {
    schedules: SCHEDULES,
    minutes: MINUTES,
    expectedJobs: expected,
    jobs: rows.length,
    duplicates,
    lagMs: {
      p50: percentile(lags, 50),
      p95: percentile(lags, 95),
      p99: percentile(lags, 99),
      max: Math.max(...lags),
    },
    deliveredMs: { p50: percentile(deliveries, 50), p99: percentile(deliveries, 99) },
  };
  const note = `${rows.length}/${expected} occurrences made a job, ${duplicates} twice; check interval ${CHECK_INTERVAL_MS} ms`;
  return {
    rows: [
      {
        scenario: 'schedules: occurrence → job',
        throughput: Math.round((rows.length / (MINUTES * 60)) * 100) / 100,
        ratio: Math.round((percentile(lags, 50) / CHECK_INTERVAL_MS) * 100) / 100,
        p50: percentile(lags, 50),
        p95: percentile(lags, 95),
        p99: percentile(lags, 99),
        errors: expected - rows.length + duplicates,
        note,
      },
      {
        scenario: 'schedules: occurrence → webhook',
        throughput: Math.round((deliveries.length / (MINUTES * 60)) * 100) / 100,
        p50: percentile(deliveries, 50),
        p99: percentile(deliveries, 99),
        errors: rows.length - deliveries.length,
      },
    ],
    report,
  };
}
