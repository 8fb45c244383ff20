// The jobs table as the queue of job attempts: claim order, the worker's capacity, leases renewed while an
// attempt runs, and a lost lease (a worker that died) claimed again and decided on.
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { waitFor } from '../../harness/wait.ts';
import type { AppContext } from '../../src/context.ts';
import { startJobRunner } from '../../src/jobs/runner.ts';
import { claimDueJobs, finishSucceeded } from '../../src/store/job-queue.ts';
import { type Job, jobsApp } from '../helpers/jobs-app.ts';

/** A runner started by the test itself, after its jobs are in place; stopped at teardown. */
function runner(t: Test, ctx: AppContext) {
  const started = startJobRunner(ctx);
  t.teardown(() => started.stop(Date.now() + 1_000));
}

async function setup(t: Test, env: Record<string, string> = {}) {
  const app = await jobsApp(t, env, { workers: false });
  const { api } = await app.tenant('queue');
  const submit = async (body: Record<string, unknown>) => {
    const response = await api('POST', '/v1/jobs', body);
    if (response.status !== 202) throw new Error(`submit failed: ${response.status}`);
    return response.body.id as string;
  };
  const job = async (id: string) => (await api<Job>('GET', `/v1/jobs/${id}`)).body;
  return { app, api, submit, job, finished: (id: string) => app.finished(api, id) };
}

t.test('claims take the highest priority first, then the longest waiting', async (t) => {
  const { app, submit, finished } = await setup(t, { WORKER_CONCURRENCY: '1' });
  const low = await submit({ type: 'echo', input: 'low', priority: -10 });
  const first = await submit({ type: 'echo', input: 'first' });
  const second = await submit({ type: 'echo', input: 'second' });
  const urgent = await submit({ type: 'echo', input: 'urgent', priority: 50 });
  runner(t, app.ctx);
  for (const id of [low, first, second, urgent]) t.equal((await finished(id)).status, 'succeeded');
  const { rows } = await app.ctx.pool.query<{ id: string }>(
    'select id from jobs where id = any($1) order by started_at',
    [[low, first, second, urgent]],
  );
  t.same(
    rows.map((row) => row.id),
    [urgent, first, second, low],
    'one slot: priority 50, then the two of priority 0 in submission order, then -10',
  );
});

t.test(
  'a worker runs at most WORKER_CONCURRENCY attempts at once, and claims again as they end',
  async (t) => {
    const { app, submit, finished } = await setup(t, { WORKER_CONCURRENCY: '2' });
    const ids = await Promise.all(
      Array.from({ length: 6 }, () => submit({ type: 'demo.report', input: { steps: 2, stepMs: 150 } })),
    );
    runner(t, app.ctx);
    let most = 0;
    // Watches the running count every 20 ms (often, so a third attempt at once would be seen) until all end.
    const watching = waitFor(
      'the 6 jobs to end',
      async () => {
        const { rows } = await app.ctx.pool.query<{ running: number; left: number }>(
          `select (count(*) filter (where status = 'running'))::int as running,
                (count(*) filter (where status in ('queued', 'running')))::int as left
           from jobs where id = any($1)`,
          [ids],
        );
        most = Math.max(most, rows[0]?.running ?? 0);
        return rows[0]?.left === 0;
      },
      30_000,
      20,
    );
    for (const id of ids) t.equal((await finished(id)).status, 'succeeded');
    await watching;
    t.equal(most, 2, 'two running at the most, and two at some point');
  },
);

t.test('a running attempt renews its lease, so it outlives JOB_HEARTBEAT and runs once', async (t) => {
  const { app, submit, finished } = await setup(t, { JOB_HEARTBEAT: '5s' });
  const id = await submit({ type: 'demo.report', input: { steps: 8, stepMs: 800 } });
  runner(t, app.ctx);
  // A second worker on the same database, ready to take any lease that runs out.
  runner(t, app.ctx);
  const leaseEnd = async () =>
    (
      await app.ctx.pool.query<{ at: Date; status: string }>(
        'select next_attempt_at as at, status from jobs where id = $1',
        [id],
      )
    ).rows[0];
  const first = await waitFor(
    'the job to start running',
    async () => {
      const row = await leaseEnd();
      return row?.status === 'running' ? row : undefined;
    },
    20_000,
    20,
  );
  await sleep(2_500); // past the first renewal (every third of the heartbeat)
  const renewed = await leaseEnd();
  t.ok(
    renewed && renewed.at.getTime() > first.at.getTime(),
    'the lease end moved forward while the attempt ran',
  );
  const job = await finished(id);
  t.equal(job.status, 'succeeded');
  t.equal(job.attempts, 1, 'no other worker took it over, though it ran past the heartbeat');
});

/** Claims due jobs the way a worker does, as one that dies at once would leave them: leased, never settled. */
async function claimAndDie(ctx: AppContext) {
  const claimed = await claimDueJobs(ctx.pool, { limit: 10, leaseMs: 60_000 });
  // The lease runs out (as it would JOB_HEARTBEAT after the death).
  await ctx.pool.query("update jobs set next_attempt_at = now() - interval '1 second' where id = any($1)", [
    claimed.map((row) => row.id),
  ]);
  return claimed;
}

t.test('a lost lease is claimed again: the lost attempt counts, the next one runs', async (t) => {
  const { app, submit, job, finished } = await setup(t);
  const id = await submit({ type: 'echo', input: { lost: true }, maxAttempts: 3 });
  const [claimed] = await claimAndDie(app.ctx);
  t.equal(claimed?.id, id);
  t.match(await job(id), { status: 'running', attempts: 1 }, 'the dead worker had started it');
  runner(t, app.ctx);
  const done = await finished(id);
  t.match(done, { status: 'succeeded', attempts: 2, result: { lost: true } });
});

t.test('a lost lease on the last attempt fails the job, and its webhook event is written', async (t) => {
  const { app, submit, finished } = await setup(t);
  const id = await submit({ type: 'echo', input: 1, maxAttempts: 1 });
  await claimAndDie(app.ctx);
  runner(t, app.ctx);
  const done = await finished(id);
  t.match(done, {
    status: 'failed',
    attempts: 1,
    error: 'the worker running the last attempt stopped before it finished',
  });
  const { rows } = await app.ctx.pool.query('select event_type from job_events where job_id = $1', [id]);
  t.same(
    rows.map((row) => row.event_type),
    ['job.failed'],
  );
});

t.test('a settle under a lease another worker took over changes nothing', async (t) => {
  const { app, submit, job } = await setup(t);
  const id = await submit({ type: 'echo', input: 1 });
  const [stale] = await claimAndDie(app.ctx);
  // Another worker claims it now (the lost attempt): its lease is the one that counts.
  const [current] = await claimDueJobs(app.ctx.pool, { limit: 10, leaseMs: 60_000 });
  t.equal(current?.id, id);
  t.not(current?.lease_id, stale?.lease_id, 'each claim writes a new lease');
  const ended = await finishSucceeded(app.ctx.pool, [
    { id, leaseId: stale?.lease_id as string, result: 'from the dead' },
  ]);
  t.same(ended, [], 'the stale lease ends nothing');
  t.match(await job(id), { status: 'running', result: null });
});
