// The TypeScript worker client (`hookrelay/worker`) against the real service on a real database: a remote job
// runs with progress to a signed webhook; PermanentJobError, RetryLaterError and plain errors steer retries;
// heartbeats hold the lease past `heartbeatSeconds`; cancelling reaches the handler through the heartbeat's 409;
// stop() is graceful; and a worker killed mid-job leaves it to another after the lease, its late report refused.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Log,
  PermanentJobError,
  RetryLaterError,
  runWorker,
  type Task,
  TaskEndedError,
  type Worker,
  WorkerRefusedError,
} from 'hookrelay/worker';
import t, { type Test } from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { client } from '../helpers/client.ts';
import { type Job, jobsApp, readEvents } from '../helpers/jobs-app.ts';
import { upstream, verifiedWebhook } from '../helpers/upstream.ts';

const HANGING_WORKER = path.resolve(import.meta.dirname, '..', 'fixtures', 'worker', 'hanging.ts');

const { base, admin, tenant, finished } = await jobsApp(t);
const owner = await tenant('workers');
const api = owner.api;
const workerKey = (
  await admin<{ apiKey: string }>('POST', `/v1/admin/tenants/${owner.id}/keys`, { role: 'worker' })
).body.apiKey;
const receiver = await upstream(t, () => ({ status: 204 }));
const endpoint = (
  await api<{ id: string; secret: string }>('POST', '/v1/endpoints', { url: `${receiver.url}/hook` })
).body;

/** Registers a remote type with the shortest lease, so that a lost one shows within seconds. */
async function remoteType(name: string, extra: Record<string, unknown> = {}) {
  const response = await api('PUT', `/v1/job-types/${name}`, {
    execution: 'remote',
    heartbeatSeconds: 5,
    ...extra,
  });
  if (response.status !== 201)
    throw new Error(`${name}: ${response.status} ${JSON.stringify(response.body)}`);
}

async function submit(type: string, input: unknown, extra: Record<string, unknown> = {}) {
  const response = await api('POST', '/v1/jobs', { type, input, ...extra });
  if (response.status !== 202)
    throw new Error(`not accepted: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.id as string;
}

const job = async (id: string) => (await api<Job>('GET', `/v1/jobs/${id}`)).body;

type Logged = Array<{ level: string; message: string; fields?: Record<string, unknown> }>;

/** Where a test's workers connect, logging into `logged`. */
function connection(logged: Logged = []): { url: string; key: string; log: Log } {
  return {
    url: base,
    key: workerKey,
    log: (level, message, fields) => logged.push({ level, message, fields }),
  };
}

/** A worker stopped at the test's end, whatever its tasks are doing. */
function kept(t: Test, worker: Worker): Worker {
  t.teardown(() => worker.stop({ abortAfterMs: 0 }));
  return worker;
}

t.test(
  'a job runs on the worker: its progress reaches the job, its result arrives as a signed webhook',
  async (t) => {
    await remoteType('reports.remote', { timeoutSeconds: 600 });
    const release = Promise.withResolvers<void>();
    const tasks: Task[] = [];
    kept(
      t,
      runWorker({
        ...connection(),
        types: ['reports.remote'],
        async handler(task: Task<{ a: number; b: number }>) {
          tasks.push(task);
          await task.progress(40, 'halfway');
          await release.promise;
          return { sum: task.input.a + task.input.b };
        },
      }),
    );
    const id = await submit(
      'reports.remote',
      { a: 2, b: 3 },
      { endpointId: endpoint.id, metadata: { order: 'o-1' } },
    );
    const stream = readEvents(base, owner.key, id);
    const running = await waitFor('the progress to reach the job', async () => {
      const seen = await job(id);
      return seen.progress.percent === 40 && seen;
    });
    t.match(running, {
      status: 'running',
      execution: 'remote',
      progress: { percent: 40, message: 'halfway' },
      leaseExpiresAt: String,
    });
    release.resolve();

    t.match(await finished(api, id), { status: 'succeeded', attempts: 1, result: { sum: 5 } });
    const { events } = await stream;
    t.ok(
      events.some((e) => e.event === 'progress' && e.data.progress.percent === 40),
      'the progress is on the event stream',
    );
    const request = await waitFor('the webhook', () =>
      receiver.requests.find((r) => r.headers['x-job-id'] === id),
    );
    t.match(verifiedWebhook(endpoint.secret, request), {
      type: 'job.succeeded',
      data: { jobId: id, jobType: 'reports.remote', result: { sum: 5 }, metadata: { order: 'o-1' } },
    });
    const [task] = tasks;
    t.match(task, {
      jobId: id,
      type: 'reports.remote',
      input: { a: 2, b: 3 },
      attempt: 1,
      metadata: { order: 'o-1' },
    });
    t.ok(task && task.maxAttempts >= 1, 'maxAttempts');
    const deadline = task?.deadline.getTime() ?? 0;
    t.ok(
      deadline > Date.now() + 500_000 && deadline <= Date.now() + 600_000,
      "the deadline is the type's timeout",
    );
  },
);

t.test('PermanentJobError fails the job at once; other errors are retried', async (t) => {
  await remoteType('outcomes.permanent');
  await remoteType('outcomes.flaky');
  kept(
    t,
    runWorker({
      ...connection(),
      concurrency: 2,
      handlers: {
        'outcomes.permanent': async () => {
          throw new PermanentJobError('this cannot work');
        },
        'outcomes.flaky': async (task) => {
          if (task.attempt < 2) throw new Error('the upstream reset the connection');
          return { attempt: task.attempt };
        },
      },
    }),
  );
  const permanent = await submit('outcomes.permanent', {}, { maxAttempts: 5 });
  const flaky = await submit('outcomes.flaky', {}, { maxAttempts: 5 });
  t.match(await finished(api, permanent), { status: 'failed', attempts: 1, error: /this cannot work/ });
  t.match(await finished(api, flaky), { status: 'succeeded', attempts: 2, result: { attempt: 2 } });
});

t.test("RetryLaterError's delay is honoured: the next attempt comes no sooner", async (t) => {
  await remoteType('outcomes.later');
  const startedAt: number[] = [];
  kept(
    t,
    runWorker({
      ...connection(),
      types: ['outcomes.later'],
      async handler(task) {
        startedAt.push(Date.now());
        // Far longer than the service's own backoff here (JOB_RETRY_BASE 100ms), within its cap (JOB_RETRY_MAX 1s).
        if (task.attempt === 1) throw new RetryLaterError('the upstream said 429', 800);
        return 'done';
      },
    }),
  );
  const id = await submit('outcomes.later', {}, { maxAttempts: 3 });
  t.match(await finished(api, id), { status: 'succeeded', attempts: 2 });
  const [first = 0, second = 0] = startedAt;
  t.ok(second - first >= 800, `the second attempt started ${second - first} ms after the first`);
});

t.test('heartbeats hold the lease through an attempt longer than heartbeatSeconds', async (t) => {
  await remoteType('slow.remote');
  kept(
    t,
    runWorker({
      ...connection(),
      types: ['slow.remote'],
      async handler(task) {
        await sleep(7_000, undefined, { signal: task.signal });
        return { slept: 7 };
      },
    }),
  );
  const id = await submit('slow.remote', {}, { maxAttempts: 1 });
  const beating = await waitFor('a heartbeat on the running job', async () => {
    const seen = await job(id);
    return seen.lastHeartbeatAt && seen;
  });
  t.match(beating, { status: 'running', leaseExpiresAt: String });
  t.match(await finished(api, id), { status: 'succeeded', attempts: 1, result: { slept: 7 } });
});

t.test("cancelling a running job aborts the task's signal through the heartbeat's 409", async (t) => {
  await remoteType('cancel.remote');
  const started = Promise.withResolvers<void>();
  const returned = Promise.withResolvers<{ reason: unknown; progress: unknown }>();
  const logged: Logged = [];
  const worker = kept(
    t,
    runWorker({
      ...connection(logged),
      types: ['cancel.remote'],
      async handler(task) {
        started.resolve();
        await new Promise((resolve) => task.signal.addEventListener('abort', resolve, { once: true }));
        const progress = await task.progress(99).catch((error: unknown) => error);
        returned.resolve({ reason: task.signal.reason, progress });
        // Ignores its signal and returns a result anyway: it must not reach the job.
        return { ignored: true };
      },
    }),
  );
  const id = await submit('cancel.remote', {});
  await started.promise;
  t.equal((await api('POST', `/v1/jobs/${id}/cancel`)).status, 200);
  t.match(await job(id), { status: 'cancelled' }, 'cancelled at once');
  const { reason, progress } = await returned.promise;
  t.type(reason, TaskEndedError);
  t.match(reason, { status: 409, title: 'Attempt cancelled', message: /Attempt cancelled/ });
  t.equal(progress, reason, 'progress after the end rejects with the same reason');
  await waitFor('the slot to be free', () => worker.running === 0);
  t.match(await job(id), { status: 'cancelled', attempts: 1, result: null });
  t.notOk(
    logged.some((line) => /did not take/.test(line.message)),
    'nothing was reported for the cancelled attempt',
  );
});

t.test('stop() lets the running task finish and report, and claims nothing more', async (t) => {
  await remoteType('graceful.remote');
  const started = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  // Two slots: one runs the task, the other holds a long poll open that stop() must abandon.
  const worker = runWorker({
    ...connection(),
    types: ['graceful.remote'],
    concurrency: 2,
    async handler(task) {
      started.resolve();
      await release.promise;
      return { finished: task.jobId };
    },
  });
  const first = await submit('graceful.remote', {});
  await started.promise;
  let stopped = false;
  const stopping = worker.stop().then(() => {
    stopped = true;
  });
  const second = await submit('graceful.remote', {});
  await sleep(500);
  t.notOk(stopped, 'stop() waits for the running task');
  release.resolve();
  await stopping;
  t.match(
    await job(first),
    { status: 'succeeded', result: { finished: first } },
    'reported before stop() resolved',
  );
  await worker.done;
  await sleep(500);
  t.match(
    await job(second),
    { status: 'queued', attempts: 0 },
    'the job submitted after stop() was not claimed',
  );
});

t.test(
  'stop({ abortAfterMs }) aborts a task still running and reports it failed, to be retried',
  async (t) => {
    await remoteType('stubborn.remote');
    const started = Promise.withResolvers<void>();
    const worker = runWorker({
      ...connection(),
      types: ['stubborn.remote'],
      async handler(task) {
        started.resolve();
        await sleep(60_000, undefined, { signal: task.signal });
      },
    });
    const id = await submit('stubborn.remote', {}, { maxAttempts: 3 });
    await started.promise;
    await worker.stop({ abortAfterMs: 200 });
    t.match(await job(id), {
      status: 'queued',
      attempts: 1,
      error: /the worker stopped before the task finished/,
    });
  },
);

t.test('a wrong key or a type that is not a remote type stops the worker with an error', async (t) => {
  const wrongKey = runWorker({
    ...connection(),
    key: 'hr_not-a-key',
    types: ['reports.remote'],
    handler: () => 1,
  });
  await t.rejects(wrongKey.done, { name: 'WorkerRefusedError', status: 401 });
  const wrongType = runWorker({ ...connection(), types: ['no.such.type'], handler: () => 1 });
  const error = await wrongType.done.catch((e: unknown) => e);
  t.type(error, WorkerRefusedError);
  t.match(error, { status: 422 });
});

/**
 * A proxy in front of the service under a path prefix, as a worker behind a gateway sees it, that keeps each
 * claim answer: the test reads a killed worker's task token from it.
 */
async function recordingProxy(t: Test, target: string) {
  const claimed: Array<{ jobId: string; taskToken: string }> = [];
  const server = http.createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const route = (request.url ?? '').replace(/^\/gateway/, '');
    const answer = await fetch(`${target}${route}`, {
      method: request.method,
      headers: {
        'content-type': 'application/json',
        ...(request.headers.authorization && { authorization: request.headers.authorization }),
      },
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    const text = await answer.text();
    if (route === '/v1/worker/claim' && answer.status === 200) claimed.push(...JSON.parse(text).data);
    response.writeHead(answer.status, {
      'content-type': answer.headers.get('content-type') ?? 'application/json',
      date: answer.headers.get('date') ?? new Date().toUTCString(),
    });
    response.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/gateway`, claimed };
}

t.test(
  'a worker killed mid-job leaves it to another after the lease; its late complete gets 409',
  async (t) => {
    await remoteType('crash.remote');
    const proxy = await recordingProxy(t, base);
    const child = spawn(process.execPath, [HANGING_WORKER], {
      env: {
        PATH: process.env.PATH ?? '',
        HOOKRELAY_URL: proxy.url,
        HOOKRELAY_KEY: workerKey,
        WORKER_TYPE: 'crash.remote',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    t.teardown(() => {
      child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const lines: Array<{ claimed: string; attempt: number }> = [];
    createInterface({ input: child.stdout }).on('line', (line) => lines.push(JSON.parse(line)));

    const id = await submit('crash.remote', {}, { maxAttempts: 3 });
    await waitFor('the first worker to hold the job', () => lines.find((line) => line.claimed === id)).catch(
      (error: Error) => {
        throw new Error(`${error.message}: ${stderr}`);
      },
    );
    await waitFor('its progress to reach the job', async () => (await job(id)).progress.percent === 10);
    const firstToken = proxy.claimed.find((claim) => claim.jobId === id)?.taskToken ?? '';
    t.match(firstToken, /^tt_[\w-]{43}$/);
    child.kill('SIGKILL');
    await exited;

    kept(
      t,
      runWorker({
        ...connection(),
        types: ['crash.remote'],
        handler: (task) => ({ by: 'the second worker', attempt: task.attempt }),
      }),
    );
    t.match(await finished(api, id), {
      status: 'succeeded',
      attempts: 2,
      result: { by: 'the second worker', attempt: 2 },
    });
    const late = await client(base)('POST', `/v1/tasks/${firstToken}/complete`, {
      result: { by: 'the first' },
    });
    t.equal(late.status, 409, "the first attempt's token is refused");
    t.match(late.body, { title: /Attempt ended|Lease lost/ });
    t.match(
      await job(id),
      { status: 'succeeded', result: { by: 'the second worker' } },
      'the result is unchanged',
    );
  },
);
