// The queue figures /metrics reports: depth counts everything waiting, and the oldest is measured from when an
// item fell due (next_attempt_at), not from its creation, leaving out future retries and running jobs.
import t from 'tap';
import { createLogger } from '../../src/log.ts';
import { loadMigrations, migrate } from '../../src/store/migrate.ts';
import { createPool } from '../../src/store/pool.ts';
import { queueHealth } from '../../src/store/stats.ts';
import { freshDatabase } from '../helpers/database.ts';

const pool = createPool(await freshDatabase(t), 2, createLogger('silent'), 'stats-test');
t.teardown(() => pool.end());
await migrate(pool, createLogger('silent'), await loadMigrations());
await pool.query("insert into tenants (id, name, signing_secret) values ('ten_1', 't', 'whsec_x')");

/** A job created an hour ago in `status`, due `dueSeconds` from now (negative: in the past). */
const job = (id: string, status: string, dueSeconds: number, priority = 0) =>
  pool.query(
    `insert into jobs (id, tenant_id, type, status, input, timeout_seconds, max_attempts, priority, created_at,
                       next_attempt_at)
     values ($1, 'ten_1', 'echo', $2, '{}', 60, 3, $3, now() - interval '1 hour', now() + $4 * interval '1 second')`,
    [id, status, priority, dueSeconds],
  );
const message = (id: string, dueSeconds: number, leased = false, receiver = 'ep_r') =>
  pool.query(
    `insert into messages (id, tenant_id, url, event_type, payload, receiver, leased, created_at, next_attempt_at)
     values ($1, 'ten_1', 'http://127.0.0.1:9/', 'job.succeeded', '{}', $4, $2, now() - interval '1 hour',
             now() + $3 * interval '1 second')`,
    [id, leased, dueSeconds, receiver],
  );
const health = async () => {
  const { queues } = await queueHealth(pool);
  return Object.fromEntries(queues.map((q) => [q.queue, q]));
};

t.test('empty queues are 0 deep and 0 s old', async (t) => {
  t.match(await health(), {
    jobs: { depth: 0, oldestSeconds: 0 },
    'remote jobs': { depth: 0, oldestSeconds: 0 },
    deliveries: { depth: 0, oldestSeconds: 0 },
  });
});

t.test('jobs due now count for the oldest, at every priority and for every tenant', async (t) => {
  await job('job_later', 'queued', 600); // a retry in ten minutes: waiting, not due
  await job('job_running', 'running', 3_600); // its lease runs for an hour
  t.match(await health(), { jobs: { depth: 1, oldestSeconds: 0 } }, 'none due: nothing has waited');

  await job('job_lost', 'running', -90); // its lease ran out a minute and a half ago: due again
  const lost = (await health()).jobs;
  t.equal(lost?.depth, 1, 'a running job is not in the depth');
  t.ok(lost && lost.oldestSeconds >= 90 && lost.oldestSeconds < 100, `lost for 90 s: ${lost?.oldestSeconds}`);

  await job('job_due', 'queued', -30);
  await job('job_urgent', 'queued', -60, 5);
  await job('job_done', 'succeeded', -7_200);
  await pool.query("insert into tenants (id, name, signing_secret) values ('ten_2', 't2', 'whsec_y')");
  await pool.query(
    `insert into jobs (id, tenant_id, type, status, input, timeout_seconds, max_attempts, priority, created_at,
                       next_attempt_at)
     values ('job_other', 'ten_2', 'echo', 'queued', '{}', 60, 3, -5, now() - interval '1 day',
             now() - interval '120 seconds')`,
  );
  const { jobs } = await health();
  t.equal(jobs?.depth, 4, 'every queued job, due or not');
  t.ok(
    jobs && jobs.oldestSeconds >= 120 && jobs.oldestSeconds < 130,
    `another tenant's low-priority job, due for two minutes, created a day ago: ${jobs?.oldestSeconds}`,
  );
});

t.test('pending messages: the oldest is due the longest, a message being sent is not waiting', async (t) => {
  await message('msg_retry', 300); // its next attempt in five minutes
  await message('msg_sending', 30, true); // leased for another 30 s
  t.match(await health(), { deliveries: { depth: 2, oldestSeconds: 0 } });

  await message('msg_lost', -45, true); // its lease ran out 45 s ago: due again
  await message('msg_due', -20);
  const { deliveries } = await health();
  t.equal(deliveries?.depth, 4);
  t.ok(
    deliveries && deliveries.oldestSeconds >= 45 && deliveries.oldestSeconds < 55,
    `due for 45 s: ${deliveries?.oldestSeconds}`,
  );

  await message('msg_elsewhere', -80, false, 'https://receiver.example');
  const both = (await health()).deliveries;
  t.ok(
    both && both.oldestSeconds >= 80 && both.oldestSeconds < 90,
    `another receiver's, due for 80 s: ${both?.oldestSeconds}`,
  );
});

t.test(
  "remote jobs are a queue of their own: claimed by tenants' workers, not by this service's",
  async (t) => {
    const remote = (id: string, status: string, dueSeconds: number, type = 'r.x') =>
      pool.query(
        `insert into jobs (id, tenant_id, type, status, input, timeout_seconds, max_attempts, created_at,
                         next_attempt_at, execution, heartbeat_seconds)
       values ($1, 'ten_1', $4, $2, '{}', 60, 3, now() - interval '1 hour', now() + $3 * interval '1 second',
               'remote', 30)`,
        [id, status, dueSeconds, type],
      );
    const before = (await health()).jobs;
    await remote('job_r_later', 'queued', 60);
    await remote('job_r_running', 'running', 20); // its worker's lease holds for 20 s more
    const now = await health();
    t.match(now, { 'remote jobs': { depth: 1, oldestSeconds: 0 } });
    t.equal(now.jobs?.depth, before?.depth, 'not in the depth of the jobs run here');
    await remote('job_r_due', 'queued', -40, 'r.y');
    await remote('job_r_lapsed', 'running', -70);
    const queue = (await health())['remote jobs'];
    t.equal(queue?.depth, 2, 'the queued ones');
    t.ok(
      queue && queue.oldestSeconds >= 70 && queue.oldestSeconds < 80,
      `a lapsed lease, 70 s: ${queue?.oldestSeconds}`,
    );
  },
);
