// Jobs across processes on one database: API processes stream what worker processes do, and a worker
// killed mid-job loses nothing.
import pg from 'pg';
import t, { type Test } from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { client } from '../helpers/client.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY, type Job, readEvents } from '../helpers/jobs-app.ts';
import { runHookrelay } from '../helpers/process.ts';

async function cluster(t: Test, extra: Record<string, string> = {}) {
  const url = await freshDatabase(t);
  const env = { DATABASE_URL: url, ADMIN_API_KEY: ADMIN_KEY, ...extra };
  const apiA = runHookrelay(t, { ...env, HOOKRELAY_ROLE: 'api' });
  const apiB = runHookrelay(t, { ...env, HOOKRELAY_ROLE: 'api' });
  const [baseA, baseB] = await Promise.all([apiA.ready(), apiB.ready()]);
  const tenant = (await client(baseA, ADMIN_KEY)('POST', '/v1/admin/tenants', { name: 'x' })).body as {
    apiKey: string;
  };
  return { url, env, baseA: baseA as string, baseB: baseB as string, key: tenant.apiKey };
}

async function count(url: string, sql: string, values: unknown[]): Promise<number> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    return (await db.query(sql, values)).rows[0].n as number;
  } finally {
    await db.end();
  }
}

t.test('SSE and long poll on two API processes follow a job run by a worker process', async (t) => {
  const c = await cluster(t);
  const worker = runHookrelay(t, { ...c.env, HOOKRELAY_ROLE: 'worker' });
  const workerBase = await worker.ready();
  t.equal((await fetch(`${workerBase}/v1/jobs`)).status, 404, 'worker processes serve no API routes');
  t.equal((await fetch(`${workerBase}/readyz`)).status, 200, 'but do answer probes');

  const api = client(c.baseA, c.key);
  const id = (await api('POST', '/v1/jobs', { type: 'demo.report', input: { steps: 5, stepMs: 200 } })).body
    .id as string;
  const [stream, polled] = await Promise.all([
    readEvents(c.baseA, c.key, id),
    client(c.baseB, c.key)<Job>('GET', `/v1/jobs/${id}?waitSeconds=30`),
  ]);
  t.equal(polled.body.status, 'succeeded', 'the long poll on the other API process returned at the end');
  t.equal(stream.events.at(-1)?.data.status, 'succeeded');
  // Updates that land between two reads of the stream arrive as one event: how many is not fixed, their order is.
  const percents = stream.events.filter((e) => e.event === 'progress').map((e) => e.data.progress.percent);
  t.ok(percents.length >= 1, `progress arrived from the worker process (${percents.join(', ')} %)`);
  t.ok(
    percents.every((percent, i) => i === 0 || percent >= (percents[i - 1] as number)),
    'in order: progress never goes back',
  );
});

t.test('a worker killed mid-job: another worker finishes it, once', async (t) => {
  const c = await cluster(t, { JOB_HEARTBEAT: '5s' });
  const doomed = runHookrelay(t, { ...c.env, HOOKRELAY_ROLE: 'worker' });
  await doomed.ready();
  const api = client(c.baseA, c.key);
  const id = (await api('POST', '/v1/jobs', { type: 'demo.report', input: { steps: 10, stepMs: 300 } })).body
    .id as string;
  const streamed = readEvents(c.baseB, c.key, id);

  await waitFor(
    'the job to report some progress',
    async () => (await api<Job>('GET', `/v1/jobs/${id}`)).body.progress.percent > 0,
    30_000,
  );
  doomed.child.kill('SIGKILL');
  await doomed.exited;
  const killedAt = Date.now();

  const rescuer = runHookrelay(t, { ...c.env, HOOKRELAY_ROLE: 'worker' });
  await rescuer.ready();
  const job = (await api<Job>('GET', `/v1/jobs/${id}?waitSeconds=60`)).body;
  t.equal(job.status, 'succeeded');
  t.equal(job.attempts, 2, 'the lost attempt counts, the second one finished');
  t.comment(`recovered ${Date.now() - killedAt} ms after the kill (heartbeat 5 s)`);
  t.equal(
    await count(
      c.url,
      "select count(*)::int as n from job_events where job_id = $1 and event_type = 'job.succeeded'",
      [id],
    ),
    1,
    'one terminal event',
  );
  const { events } = await streamed;
  t.equal(events.at(-1)?.data.status, 'succeeded', 'the SSE stream on an API process saw it through');
});

t.test('a worker stopped gracefully mid-job hands the attempt back; the next worker runs it', async (t) => {
  const c = await cluster(t);
  const stopping = runHookrelay(t, { ...c.env, HOOKRELAY_ROLE: 'worker', SHUTDOWN_TIMEOUT: '4s' });
  await stopping.ready();
  const api = client(c.baseA, c.key);
  const id = (await api('POST', '/v1/jobs', { type: 'demo.report', input: { steps: 20, stepMs: 500 } })).body
    .id as string;
  await waitFor(
    'the job to start running',
    async () => (await api<Job>('GET', `/v1/jobs/${id}`)).body.status === 'running',
    30_000,
  );
  stopping.child.kill('SIGTERM');
  t.equal((await stopping.exited).code, 0, 'the worker stopped within its deadline');
  const paused = (await api<Job>('GET', `/v1/jobs/${id}`)).body;
  t.equal(paused.status, 'queued', 'the job went back to the queue');
  t.equal(paused.attempts, 0, 'the interrupted attempt was not counted against the job');
  t.match(paused.error, /worker stopped/);

  const next = runHookrelay(t, { ...c.env, HOOKRELAY_ROLE: 'worker' });
  await next.ready();
  const job = (await api<Job>('GET', `/v1/jobs/${id}?waitSeconds=60`)).body;
  t.equal(job.status, 'succeeded');
  t.equal(job.attempts, 1);
});
