// Running jobs: every status transition, results, progress, retries, timeouts, cancellation, SSE, long poll.
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { type Job, jobsApp, readEvents } from '../helpers/jobs-app.ts';
import { upstream } from '../helpers/upstream.ts';

const app = await jobsApp(t);
const { api, key } = await app.tenant('runner');

async function submit(body: Record<string, unknown>): Promise<string> {
  const response = await api('POST', '/v1/jobs', body);
  if (response.status !== 202)
    throw new Error(`submit failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.id as string;
}

async function events(jobId: string) {
  const { rows } = await app.ctx.pool.query(
    'select event_type, payload from job_events where job_id = $1 order by id',
    [jobId],
  );
  return rows as Array<{ event_type: string; payload: Record<string, unknown> }>;
}

/** Polls until the job reaches the status (used only to catch a job mid-run). */
async function reach(id: string, status: string): Promise<Job> {
  for (let i = 0; i < 600; i++) {
    const job = (await api<Job>('GET', `/v1/jobs/${id}`)).body;
    if (job.status === status) return job;
    await sleep(50);
  }
  throw new Error(`job ${id} never reached ${status}`);
}

t.test('echo: queued → running → succeeded, result, outbox event', async (t) => {
  const id = await submit({ type: 'echo', input: { hello: ['world'] }, metadata: { ref: 'r1' } });
  const job = await app.finished(api, id);
  t.match(job, { status: 'succeeded', attempts: 1, result: { hello: ['world'] }, error: null });
  t.equal(job.progress.percent, 100);
  t.type(job.startedAt, 'string');
  t.type(job.completedAt, 'string');
  const result = await api('GET', `/v1/jobs/${id}/result`);
  t.equal(result.status, 200);
  t.same(result.body, { hello: ['world'] });
  const written = await events(id);
  t.equal(written.length, 1, 'exactly one terminal event');
  t.equal(written[0]?.event_type, 'job.succeeded');
  t.match(written[0]?.payload, {
    jobId: id,
    jobType: 'echo',
    status: 'succeeded',
    result: { hello: ['world'] },
    attempts: 1,
    metadata: { ref: 'r1' },
  });
});

t.test('result is 409 with the current status until the job succeeded', async (t) => {
  const later = new Date(Date.now() + 86_400_000).toISOString();
  const id = await submit({ type: 'echo', input: 1, runAt: later });
  const response = await api('GET', `/v1/jobs/${id}/result`);
  t.equal(response.status, 409);
  t.match(response.body.detail, /queued/);
  const held = await api<Job>('GET', `/v1/jobs/${id}?waitSeconds=1`);
  t.equal(held.status, 200, 'a long poll that times out answers with the current state');
  t.equal(held.body.status, 'queued');
});

t.test('demo.report: SSE carries each status and progress change, then closes', async (t) => {
  const id = await submit({ type: 'demo.report', input: { steps: 4, stepMs: 150 } });
  const { response, events: stream } = await readEvents(app.base, key, id);
  t.equal(response.status, 200);
  t.match(response.headers.get('content-type'), /^text\/event-stream/);
  const last = stream.at(-1);
  t.equal(last?.event, 'status');
  t.equal(last?.data.status, 'succeeded');
  t.same(last?.data.result && Object.keys(last.data.result as object).sort(), ['generatedAt', 'rows']);
  const percents = stream.filter((e) => e.event === 'progress').map((e) => e.data.progress.percent);
  // Updates that land between two reads of the stream arrive as one event: how many is not fixed, their order is.
  t.ok(percents.length >= 1, `progress events: ${percents.join(', ')}`);
  t.same(
    percents,
    [...percents].sort((a, b) => a - b),
    'progress only goes up',
  );
  const versions = stream.map((e) => Number(e.id));
  t.same(
    versions,
    [...versions].sort((a, b) => a - b),
    'event ids increase',
  );
  t.equal(new Set(versions).size, versions.length, 'no event sent twice');

  const replay = await readEvents(app.base, key, id);
  t.equal(replay.events.length, 1, 'a finished job streams its final state once');
  const resumed = await readEvents(app.base, key, id, { 'last-event-id': String(last?.id) });
  t.equal(resumed.events.length, 0, 'resuming after the last event sends nothing more');
});

t.test('http: 5xx is retried with backoff until the upstream answers', async (t) => {
  const server = await upstream(t, (_request, i) =>
    i < 2
      ? { status: 500 }
      : { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' },
  );
  const id = await submit({
    type: 'http',
    input: { url: `${server.url}/work?x=1`, method: 'POST', body: { a: 1 }, headers: { 'x-trace': 't1' } },
  });
  const job = await app.finished(api, id);
  t.match(job, { status: 'succeeded', attempts: 3, error: null });
  t.match(job.result, { status: 200, body: { ok: true } });
  t.equal(server.requests.length, 3);
  const first = server.requests[0];
  t.equal(first?.method, 'POST');
  t.equal(first?.url, '/work?x=1');
  t.equal(first?.body, '{"a":1}');
  t.equal(first?.headers['content-type'], 'application/json');
  t.equal(first?.headers['x-trace'], 't1');
  t.match(first?.headers['user-agent'], /^hookrelay\//);
});

t.test('http: other 4xx fail at once, without retries', async (t) => {
  const server = await upstream(t, () => ({ status: 404 }));
  const id = await submit({ type: 'http', input: { url: server.url } });
  const job = await app.finished(api, id);
  t.match(job, { status: 'failed', attempts: 1, error: 'upstream answered 404', result: null });
  t.equal(server.requests.length, 1);
  t.equal((await events(id))[0]?.event_type, 'job.failed');
});

t.test('http: 429 Retry-After is honoured', async (t) => {
  const times: number[] = [];
  const server = await upstream(t, (_request, i) => {
    times.push(Date.now());
    return i === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200, body: 'done' };
  });
  const id = await submit({ type: 'http', input: { url: server.url } });
  const job = await app.finished(api, id);
  t.match(job, { status: 'succeeded', attempts: 2 });
  t.match(job.result, { status: 200, body: 'done' });
  const gap = (times[1] ?? 0) - (times[0] ?? 0);
  t.ok(gap >= 900, `waited ${gap} ms after Retry-After: 1 (the retry base here is 100 ms)`);
});

t.test('http: attempts are bounded by maxAttempts', async (t) => {
  const server = await upstream(t, () => ({ status: 503 }));
  const id = await submit({ type: 'http', input: { url: server.url }, maxAttempts: 2 });
  const job = await app.finished(api, id);
  t.match(job, { status: 'failed', attempts: 2, error: 'upstream answered 503' });
  t.equal(server.requests.length, 2);
});

t.test('http: addresses outside the allow-list are refused at submission', async (t) => {
  const response = await api('POST', '/v1/jobs', { type: 'http', input: { url: 'http://10.255.255.1/' } });
  t.equal(response.status, 422);
  t.match(response.body.detail, /not allowed: .*private/);
  const listed = await api<{ data: unknown[] }>('GET', '/v1/jobs?type=http&limit=100');
  t.notOk(JSON.stringify(listed.body.data).includes('10.255.255.1'), 'no job was created');
});

t.test('http: an upstream that hangs past the job timeout is retried, then fails', async (t) => {
  const server = await upstream(t, () => ({ status: 200, delayMs: 5_000 }));
  const id = await submit({ type: 'http', input: { url: server.url }, timeoutSeconds: 1, maxAttempts: 2 });
  const job = await app.finished(api, id);
  t.match(job, { status: 'failed', attempts: 2, error: 'timed out after 1s' });
});

t.test('a handler that runs past timeoutSeconds is aborted', async (t) => {
  const id = await submit({
    type: 'demo.report',
    input: { steps: 3, stepMs: 2_000 },
    timeoutSeconds: 1,
    maxAttempts: 1,
  });
  const job = await app.finished(api, id);
  t.match(job, { status: 'failed', attempts: 1, error: 'timed out after 1s' });
  t.ok(job.progress.percent < 100);
});

t.test('cancel a queued job: cancelled at once; finished jobs answer 409', async (t) => {
  const later = new Date(Date.now() + 86_400_000).toISOString();
  const id = await submit({ type: 'echo', input: 1, runAt: later });
  const cancelled = await api<Job>('POST', `/v1/jobs/${id}/cancel`);
  t.equal(cancelled.status, 200);
  t.equal(cancelled.body.status, 'cancelled');
  t.type(cancelled.body.completedAt, 'string');
  t.equal((await api('POST', `/v1/jobs/${id}/cancel`)).status, 409);
  t.equal((await api('DELETE', `/v1/jobs/${id}`)).status, 409);
  t.same(
    (await events(id)).map((e) => e.event_type),
    ['job.cancelled'],
  );
  const done = await submit({ type: 'echo', input: 2 });
  await app.finished(api, done);
  const conflict = await api('DELETE', `/v1/jobs/${done}`);
  t.equal(conflict.status, 409);
  t.match(conflict.body.detail, /already succeeded/);
});

t.test('cancel a running job: its handler is aborted through its signal', async (t) => {
  for (const [method, path] of [
    ['POST', '/cancel'],
    ['DELETE', ''],
  ] as const) {
    const id = await submit({ type: 'demo.report', input: { steps: 100, stepMs: 100 } });
    await reach(id, 'running');
    const response = await api<Job>(method, `/v1/jobs/${id}${path}`);
    t.equal(response.status, 200, `${method} ${path || '/'}`);
    t.equal(response.body.status, 'cancelled', 'answered once the handler stopped');
    t.ok(response.body.progress.percent < 100, 'it did not run to the end');
    const after = (await api<Job>('GET', `/v1/jobs/${id}`)).body;
    t.equal(after.status, 'cancelled');
    t.same(
      (await events(id)).map((e) => e.event_type),
      ['job.cancelled'],
    );
  }
});
