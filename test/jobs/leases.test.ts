// A worker that lost its lease stops: renewals say which leases are still held and abort the attempts that
// are not, progress is written only under the attempt's own lease, and a worker slot stays taken until the
// handler has actually returned (a handler deaf to its signal is logged and counted, not run beside another).
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { z } from 'zod';
import { waitFor } from '../../harness/wait.ts';
import { defineHandler } from '../../src/jobs/handler.ts';
import { jobsApp } from '../helpers/jobs-app.ts';
import { upstream } from '../helpers/upstream.ts';

/** A handler that ignores its signal: it returns only when the test lets it (by run number, from 1). */
const stubborn = { runs: 0, release: new Map<number, () => void>() };
const stubbornType = defineHandler({
  type: 'test.stubborn',
  input: z.unknown(),
  defaultTimeoutSeconds: 1,
  run: async () => {
    const run = ++stubborn.runs;
    await new Promise<void>((resolve) => stubborn.release.set(run, resolve));
    return { run };
  },
});

// Renewals every 5 s / 3; one worker slot, so a slot held too long shows as a job that cannot start.
const app = await jobsApp(t, { JOB_HEARTBEAT: '5s', WORKER_CONCURRENCY: '1' }, { handlers: [stubbornType] });
const { api } = await app.tenant('leases');
const db = app.ctx.pool;

const job = async (id: string) =>
  (
    await db.query('select status, attempts, lease_id, progress_percent, version from jobs where id = $1', [
      id,
    ])
  ).rows[0];
const metric = async (name: string) => {
  const text = await app.ctx.metrics.registry.metrics();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
};

t.test('an attempt whose lease another worker took is aborted at the next renewal', async (t) => {
  // An http job to an upstream that does not answer for a minute: only the attempt's signal ends it sooner.
  const server = await upstream(t, () => ({ status: 200, delayMs: 60_000 }));
  const lostBefore = await metric('hookrelay_leases_lost_total\\{queue="jobs"\\}');
  const { id } = (await api<{ id: string }>('POST', '/v1/jobs', { type: 'http', input: { url: server.url } }))
    .body;
  await waitFor('the job’s call to reach the upstream', () => server.requests.length > 0);
  // Another worker's claim, as it would write it after this one's lease ran out.
  const taken = await db.query<{ lease_id: string }>(
    'update jobs set lease_id = gen_random_uuid() where id = $1 returning lease_id',
    [id],
  );
  await waitFor(
    'the lost lease to be counted',
    async () => (await metric('hookrelay_leases_lost_total\\{queue="jobs"\\}')) > lostBefore,
  );
  const row = await job(id);
  t.equal(row.status, 'running', 'nothing recorded by the worker that lost it');
  t.equal(row.lease_id, taken.rows[0]?.lease_id, 'the other worker still holds it');
  // The slot is free again: another job runs on this one-slot worker.
  const next = (await api<{ id: string }>('POST', '/v1/jobs', { type: 'echo', input: 1 })).body;
  t.equal((await app.finished(api, next.id, 15)).status, 'succeeded', 'the slot was given back');
  await db.query("update jobs set status = 'cancelled', next_attempt_at = null where id = $1", [id]);
});

t.test('progress is written only under the attempt’s own lease', async (t) => {
  const { id } = (
    await api<{ id: string }>('POST', '/v1/jobs', { type: 'demo.report', input: { steps: 50, stepMs: 100 } })
  ).body;
  await waitFor('the job to report some progress', async () => (await job(id)).progress_percent > 0);
  const taken = await db.query<{ version: number }>(
    'update jobs set lease_id = gen_random_uuid() where id = $1 returning version',
    [id],
  );
  await sleep(1_000);
  const row = await job(id);
  t.equal(row.version, taken.rows[0]?.version, 'no write after the lease changed hands');
  t.equal(row.status, 'running');
  // Its handler was stopped by the refused write: the slot is free for the next job.
  const next = (await api<{ id: string }>('POST', '/v1/jobs', { type: 'echo', input: 2 })).body;
  t.equal((await app.finished(api, next.id, 15)).status, 'succeeded');
  await db.query("update jobs set status = 'cancelled', next_attempt_at = null where id = $1", [id]);
});

t.test('a handler that ignores its abort keeps its slot until it returns, and is counted', async (t) => {
  const overrunsBefore = await metric('hookrelay_job_handler_overruns_total');
  const { id } = (
    await api<{ id: string }>('POST', '/v1/jobs', { type: 'test.stubborn', input: {}, maxAttempts: 2 })
  ).body;
  // The attempt times out after 1 s and the job is put back for its second attempt at once (100 ms backoff)...
  await waitFor('the first attempt to time out', async () => {
    const row = await job(id);
    return row.status === 'queued' && row.attempts === 1;
  });
  t.equal(stubborn.runs, 1);
  // ...but the only slot is still taken by the first handler, which has not returned: no second run beside it.
  await sleep(1_500);
  t.equal(stubborn.runs, 1, 'not run twice at once');
  t.equal((await job(id)).status, 'queued');
  await waitFor(
    'the overrun to be counted',
    async () => (await metric('hookrelay_job_handler_overruns_total')) > overrunsBefore,
  );
  t.equal(await metric('hookrelay_job_handlers_overrunning'), 1, 'one handler overrunning now');
  stubborn.release.get(1)?.();
  await waitFor('the second attempt to start', () => stubborn.runs === 2);
  stubborn.release.get(2)?.();
  const finished = await app.finished(api, id, 15);
  t.match(finished, { status: 'succeeded', attempts: 2, result: { run: 2 } });
  t.equal(await metric('hookrelay_job_handlers_overrunning'), 0);
});
