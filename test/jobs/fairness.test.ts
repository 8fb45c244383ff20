// No tenant can take every worker: claims share due jobs between tenants in rounds (fewest running first), and
// TENANT_MAX_RUNNING_JOBS holds each tenant to that many running jobs across every claiming process.
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { startJobRunner } from '../../src/jobs/runner.ts';
import { claimDueJobs } from '../../src/store/job-queue.ts';
import { withTransaction } from '../../src/store/transaction.ts';
import { jobsApp } from '../helpers/jobs-app.ts';

t.test('one claim serves every tenant with due jobs, in rounds, priority first within each', async (t) => {
  const app = await jobsApp(t, {}, { workers: false });
  const a = await app.tenant('a');
  const b = await app.tenant('b');
  for (let i = 0; i < 20; i++) await a.api('POST', '/v1/jobs', { type: 'echo', input: i });
  await b.api('POST', '/v1/jobs', { type: 'echo', input: 'low' });
  const urgent = await b.api<{ id: string }>('POST', '/v1/jobs', {
    type: 'echo',
    input: 'high',
    priority: 5,
  });
  const tenantOf = (job: { tenant_id: string }) => (job.tenant_id === a.id ? 'a' : 'b');
  const first = await claimDueJobs(app.ctx.pool, { limit: 2, leaseMs: 60_000 });
  t.same(first.map(tenantOf).sort(), ['a', 'b'], 'b is served although a has 20 older jobs waiting');
  t.ok(
    first.some((job) => job.id === urgent.body.id),
    'b’s highest-priority job first',
  );
  // Both run one now: the longest-due job, a's, goes first.
  t.same((await claimDueJobs(app.ctx.pool, { limit: 1, leaseMs: 60_000 })).map(tenantOf), ['a']);
  // Now a runs 2 and b 1: the tenant with fewer running goes first.
  t.same((await claimDueJobs(app.ctx.pool, { limit: 1, leaseMs: 60_000 })).map(tenantOf), ['b']);
});

t.test('a tenant with a burst of long jobs leaves slots for another', async (t) => {
  const app = await jobsApp(t, { WORKER_CONCURRENCY: '4', TENANT_MAX_RUNNING_JOBS: '3' });
  const noisy = await app.tenant('noisy');
  const quiet = await app.tenant('quiet');
  for (let i = 0; i < 12; i++) {
    await noisy.api('POST', '/v1/jobs', { type: 'demo.report', input: { steps: 1, stepMs: 20_000 } });
  }
  const running = async () =>
    Number(
      (
        await app.ctx.pool.query(
          "select count(*) as n from jobs where tenant_id = $1 and status = 'running'",
          [noisy.id],
        )
      ).rows[0].n,
    );
  await waitFor('the noisy tenant to have 3 jobs running', async () => (await running()) >= 3);
  t.equal(await running(), 3, 'the noisy tenant runs its cap');
  const submitted = await quiet.api<{ id: string }>('POST', '/v1/jobs', { type: 'echo', input: 1 });
  const job = await app.finished(quiet.api, submitted.body.id, 10);
  t.equal(job.status, 'succeeded', 'the quiet tenant’s job ran beside the burst');
  t.equal(await running(), 3, 'and the noisy tenant still has only its cap running');
});

t.test('the cap holds across processes claiming at once', async (t) => {
  const app = await jobsApp(t, { WORKER_CONCURRENCY: '10', TENANT_MAX_RUNNING_JOBS: '5' });
  // Two more runners on their own loops: three claimers racing for the same tenant.
  for (let i = 0; i < 2; i++) {
    const runner = startJobRunner(app.ctx);
    t.teardown(() => runner.stop(Date.now() + 1_000));
  }
  const tenant = await app.tenant('capped');
  for (let i = 0; i < 40; i++) {
    await tenant.api('POST', '/v1/jobs', { type: 'demo.report', input: { steps: 2, stepMs: 150 } });
  }
  let most = 0;
  const end = Date.now() + 4_000;
  while (Date.now() < end) {
    const { rows } = await app.ctx.pool.query(
      "select count(*)::int as n from jobs where tenant_id = $1 and status = 'running'",
      [tenant.id],
    );
    most = Math.max(most, rows[0].n);
    await sleep(10);
  }
  t.equal(most, 5, `never more than 5 running at once (most seen: ${most})`);
  const { rows } = await app.ctx.pool.query(
    "select count(*)::int as n from jobs where tenant_id = $1 and status = 'succeeded'",
    [tenant.id],
  );
  t.ok(rows[0].n > 10, `and the jobs kept flowing (${rows[0].n} done)`);
});

t.test('jobs due at the same moment start up to the cap, not none', async (t) => {
  const app = await jobsApp(t, { TENANT_MAX_RUNNING_JOBS: '3' }, { workers: false });
  const tenant = await app.tenant('tied');
  const runAt = new Date(Date.now() + 500).toISOString();
  for (let i = 0; i < 20; i++) await tenant.api('POST', '/v1/jobs', { type: 'echo', input: i, runAt });
  await sleep(600);
  const claimed = await withTransaction(app.ctx.pool, (tx) =>
    claimDueJobs(tx, { limit: 100, leaseMs: 60_000, tenantMaxRunning: 3 }),
  );
  t.equal(claimed.length, 3, 'twenty jobs tied on their due time: three start, the cap');
});
