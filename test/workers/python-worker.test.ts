// The Python worker example (examples/workers/python/worker.py) against a real service process on a real
// Postgres, as a team would run it: a worker key, a remote type, progress on the job's event stream, the result as
// a signed webhook, a permanent failure that fails the job at once, and SIGTERM letting the running job finish.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { client } from '../helpers/client.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY, type Job, readEvents } from '../helpers/jobs-app.ts';
import { runHookrelay } from '../helpers/process.ts';
import { type Recorded, upstream, verifiedWebhook } from '../helpers/upstream.ts';

const WORKER = path.resolve(import.meta.dirname, '..', '..', 'examples', 'workers', 'python', 'worker.py');
const TYPE = 'report.python';

interface PythonWorker {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts worker.py as its README says, with only the environment it documents (plus PATH). */
function startWorker(base: string, key: string): PythonWorker {
  const child = spawn('python3', [WORKER, '--type', TYPE], {
    env: { PATH: process.env.PATH ?? '', HOOKRELAY_URL: base, HOOKRELAY_KEY: key },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return { child, stderr: () => stderr, exited };
}

async function scenarios(): Promise<void> {
  const service = runHookrelay(t, {
    DATABASE_URL: await freshDatabase(t),
    ADMIN_API_KEY: ADMIN_KEY,
    OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
  });
  const base = await service.ready();
  const operator = client(base, ADMIN_KEY);
  const tenant = (await operator<{ id: string; apiKey: string }>('POST', '/v1/admin/tenants', { name: 'py' }))
    .body;
  const api = client(base, tenant.apiKey);
  const workerKey = await operator<{ apiKey: string }>('POST', `/v1/admin/tenants/${tenant.id}/keys`, {
    role: 'worker',
  });
  const registered = await api('PUT', `/v1/job-types/${TYPE}`, {
    execution: 'remote',
    inputSchema: {
      type: 'object',
      properties: {
        steps: { type: 'integer', minimum: 1, maximum: 100 },
        stepMs: { type: 'integer', minimum: 0, maximum: 60_000 },
        fail: { type: 'string' },
      },
      additionalProperties: false,
    },
    heartbeatSeconds: 5,
  });
  const receiver = await upstream(t, () => ({ status: 204 }));
  const endpoint = (
    await api<{ id: string; secret: string }>('POST', '/v1/endpoints', { url: `${receiver.url}/hook` })
  ).body;
  const worker = startWorker(base, workerKey.body.apiKey);

  async function submit(input: unknown): Promise<string> {
    const response = await api('POST', '/v1/jobs', { type: TYPE, input });
    if (response.status !== 202)
      throw new Error(`not accepted: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body.id as string;
  }
  const ended = (id: string) =>
    waitFor(
      `job ${id} to end`,
      async () => {
        const job = (await api<Job>('GET', `/v1/jobs/${id}?waitSeconds=5`)).body;
        return ['succeeded', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
      },
      30_000,
    );
  const webhook = (id: string, type: string) =>
    waitFor(`the ${type} webhook of ${id}`, () =>
      receiver.requests.find((request: Recorded) => {
        const event = JSON.parse(request.body) as { type: string; data: { jobId?: string } };
        return event.type === type && event.data.jobId === id;
      }),
    );

  t.test('setup: a worker key, and the remote type registered by the tenant', async (t) => {
    t.equal(workerKey.status, 201);
    t.match(workerKey.body, { apiKey: /^hr_/ });
    t.equal(registered.status, 201);
    t.match(registered.body, { name: TYPE, execution: 'remote', heartbeatSeconds: 5 });
    t.equal(
      (await client(base, workerKey.body.apiKey)('GET', '/v1/jobs')).status,
      403,
      'a worker key only claims',
    );
  });

  t.test("progress reaches the job's event stream; the result comes as a signed webhook", async (t) => {
    const id = await submit({ steps: 5, stepMs: 400 });
    const { events } = await readEvents(base, tenant.apiKey, id);
    const percents = events.filter((e) => e.event === 'progress').map((e) => e.data.progress.percent);
    t.ok(percents.length >= 2, `progress events: ${percents.join(', ')}`);
    t.ok(
      percents.every((p, i) => i === 0 || p >= (percents[i - 1] as number)),
      'their percent never goes down',
    );
    t.ok((percents.at(-1) as number) > (percents[0] as number), 'and goes up');
    t.match(events.at(-1)?.data, { status: 'succeeded', execution: 'remote', attempts: 1 });

    const delivered = verifiedWebhook(endpoint.secret, await webhook(id, 'job.succeeded'));
    t.match(delivered, {
      type: 'job.succeeded',
      data: { jobId: id, status: 'succeeded', result: { steps: 5, language: 'python', python: /^3\.\d+/ } },
    });
    t.match(worker.stderr(), new RegExp(`job ${id} \\(${TYPE} attempt 1/3\\): succeeded`));
    t.notMatch(worker.stderr(), /tt_/, 'the worker never logs a task token');
  });

  t.test('a PermanentError fails the job at once, with its message', async (t) => {
    const id = await submit({ fail: 'the ledger is closed' });
    const job = await ended(id);
    t.match(job, { status: 'failed', attempts: 1, maxAttempts: 3, error: /the ledger is closed/ });
    const delivered = verifiedWebhook(endpoint.secret, await webhook(id, 'job.failed'));
    t.match(delivered.data, { jobId: id, status: 'failed', attempts: 1 });
  });

  // Last: it stops the worker.
  t.test('SIGTERM while a job runs: the job still completes, then the worker exits 0', async (t) => {
    const id = await submit({ steps: 10, stepMs: 300 });
    await waitFor('the worker to report progress', async () => {
      const job = (await api<Job>('GET', `/v1/jobs/${id}`)).body;
      return job.status === 'running' && job.progress.percent > 0;
    });
    worker.child.kill('SIGTERM');
    const exit = await worker.exited;
    t.same(exit, { code: 0, signal: null }, 'exit 0');
    t.match(
      (await api<Job>('GET', `/v1/jobs/${id}`)).body,
      { status: 'succeeded', attempts: 1, result: { steps: 10, language: 'python' } },
      'the job had succeeded by the time the worker exited',
    );
    t.match(worker.stderr(), /SIGTERM: stopping/);
  });
}

const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
if (python.error || python.status !== 0)
  t.test(
    'the Python worker example',
    { skip: `python3 cannot be run: ${python.error?.message ?? python.stderr}` },
    () => {},
  );
else await scenarios();
