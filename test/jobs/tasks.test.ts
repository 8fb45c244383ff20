// Task modules, run by real service processes: a folder that cannot be used stops the start (exit 2, naming the
// file) before anything is opened, and task jobs get what built-in jobs get: input checked by their schema,
// retries and their steering errors, timeouts, cancellation mid-run, progress over SSE, and a worker killed
// mid-run whose job another finishes.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { client } from '../helpers/client.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY, type Job, readEvents } from '../helpers/jobs-app.ts';
import { runHookrelay } from '../helpers/process.ts';

const TASKS = path.resolve(import.meta.dirname, '..', 'fixtures', 'tasks');
/** What a task file outside the repository imports `hookrelay` as (it has no node_modules to find it in). */
const API = pathToFileURL(path.resolve(import.meta.dirname, '..', '..', 'src', 'index.ts')).href;
const task = (type: string) =>
  `import { defineTask, z } from '${API}';\nexport default defineTask({ type: ${JSON.stringify(type)}, input: z.unknown(), async run() { return 1; } });\n`;

t.test('a tasks folder that cannot be used stops the start with exit 2, naming the file', async (t) => {
  const cases: Array<[string, Record<string, string> | undefined, RegExp]> = [
    ['a folder that is not there', undefined, /the tasks folder \S+ cannot be read/],
    ['a folder with no task files', { 'notes.txt': 'hello' }, /has no task files/],
    ['a syntax error', { 'a.ts': 'export default {' }, /task file \S+\/a\.ts failed to load/],
    [
      'a default export that is no task',
      { 'b.mjs': 'export default { type: "x" };' },
      /b\.mjs must default-export defineTask/,
    ],
    ['a type that is no name', { 'c.mjs': task('Bad Name') }, /c\.mjs: its type "Bad Name" is not a name/],
    ['a built-in type', { 'd.mjs': task('echo') }, /d\.mjs: "echo" is a built-in job type/],
    [
      'a type defined twice',
      { 'e.mjs': task('dup.x'), 'f.mjs': task('dup.x') },
      /f\.mjs: "dup\.x" is defined in \S+e\.mjs too/,
    ],
    [
      'an input that is no zod 4 schema',
      {
        'g.mjs': `import { defineTask } from '${API}';\nexport default defineTask({ type: 'g.x', input: { safeParse() {} }, async run() {} });\n`,
      },
      /g\.mjs: its input is not a zod 4 schema/,
    ],
    [
      'an input JSON Schema cannot show',
      {
        'h.mjs': `import { defineTask, z } from '${API}';\nconst a = z.string().meta({ id: 'same' });\nconst b = z.number().meta({ id: 'same' });\nexport default defineTask({ type: 'h.x', input: z.object({ a, b }), async run() {} });\n`,
      },
      /h\.mjs: its input schema cannot be shown as JSON Schema/,
    ],
  ];
  for (const [name, files, why] of cases) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hookrelay-tasks-'));
    t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
    const folder = files ? dir : path.join(dir, 'missing');
    for (const [file, text] of Object.entries(files ?? {})) await fs.writeFile(path.join(dir, file), text);
    // Hidden copies (an editor's, macOS's) are not tasks, even broken ones.
    if (files) await fs.writeFile(path.join(dir, '._greet.ts'), 'not code at all');
    // A database that cannot be reached: had the start gone on to open it, the exit would say so, with 1.
    const service = runHookrelay(t, {
      HOOKRELAY_TASKS_DIR: folder,
      DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none',
    });
    const { code } = await service.exited;
    t.equal(code, 2, `${name}: exit 2`);
    t.match(service.stderr(), why, `${name}: the message says what and where`);
  }
});

const database = await freshDatabase(t);
const env = {
  DATABASE_URL: database,
  ADMIN_API_KEY: ADMIN_KEY,
  HOOKRELAY_TASKS_DIR: TASKS,
  JOB_HEARTBEAT: '3s',
  JOB_RETRY_BASE: '100ms',
  JOB_RETRY_MAX: '500ms',
};
const apiProcess = runHookrelay(t, { ...env, HOOKRELAY_ROLE: 'api' });
const worker = runHookrelay(t, { ...env, HOOKRELAY_ROLE: 'worker' });
const base = await apiProcess.ready();
await worker.ready();
const tenant = (await client(base, ADMIN_KEY)('POST', '/v1/admin/tenants', { name: 'tasks' })).body as {
  apiKey: string;
};
const api = client(base, tenant.apiKey);

async function submit(type: string, input: unknown, extra: Record<string, unknown> = {}): Promise<string> {
  const response = await api('POST', '/v1/jobs', { type, input, ...extra });
  if (response.status !== 202)
    throw new Error(`not accepted: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.id as string;
}
const ended = async (id: string) =>
  waitFor(`job ${id} to end`, async () => {
    const job = (await api<Job>('GET', `/v1/jobs/${id}?waitSeconds=5`)).body;
    return ['succeeded', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
  });

t.test('the task types are listed, and their input is checked by their schema', async (t) => {
  const types = (
    await api<{ data: Array<{ name: string; execution: string; timeoutSeconds: number }> }>(
      'GET',
      '/v1/job-types',
    )
  ).body.data;
  t.match(
    types.filter((type) => type.execution === 'task'),
    [
      { name: 'fixture.outcomes', timeoutSeconds: 10 },
      { name: 'fixture.steps', timeoutSeconds: 60 },
      { name: 'fixture.transform', timeoutSeconds: 3600 },
    ],
    'the fixture files (the `_` one skipped), in file order',
  );
  const refused = await api('POST', '/v1/jobs', { type: 'fixture.steps', input: { steps: 0 } });
  t.equal(refused.status, 400);
  t.match(refused.body.errors, [{ path: 'body.input.steps' }, { path: 'body.input.stepMs' }]);
});

t.test(
  "a schema's transforms and defaults reach the handler on every attempt; the job keeps what was sent",
  async (t) => {
    const job = await ended(await submit('fixture.transform', { amount: '21', failFirst: true }));
    t.match(job, {
      status: 'succeeded',
      attempts: 2,
      input: { amount: '21', failFirst: true },
      result: { doubled: 42, currency: 'EUR', type: 'number' },
    });
    t.notOk('currency' in (job.input as object), 'the stored input is as sent');
  },
);

t.test('retries: an attempt that throws is tried again, with backoff, until one succeeds', async (t) => {
  const job = await ended(await submit('fixture.outcomes', { failUntilAttempt: 3 }, { maxAttempts: 5 }));
  t.match(job, { status: 'succeeded', attempts: 3, result: { attempt: 3 } });
});

t.test('RetryLaterError sets the next attempt; PermanentJobError fails the job at once', async (t) => {
  const later = await ended(await submit('fixture.outcomes', { failUntilAttempt: 2, retryAfterMs: 300 }));
  t.match(later, { status: 'succeeded', attempts: 2 });
  const permanent = await ended(await submit('fixture.outcomes', { permanent: true }, { maxAttempts: 5 }));
  t.match(permanent, { status: 'failed', attempts: 1, error: /this cannot work/ });
});

t.test("a job's timeout ends a task attempt that runs too long", async (t) => {
  const job = await ended(
    await submit('fixture.steps', { steps: 10, stepMs: 1_000 }, { timeoutSeconds: 1, maxAttempts: 1 }),
  );
  t.match(job, { status: 'failed', attempts: 1, error: /timed out after 1s/ });
});

t.test('progress reaches an event stream; cancelling mid-run stops the task', async (t) => {
  const followed = await submit('fixture.steps', { steps: 4, stepMs: 150 });
  const stream = await readEvents(base, tenant.apiKey, followed);
  const percents = stream.events.filter((e) => e.event === 'progress').map((e) => e.data.progress.percent);
  t.ok(percents.length >= 1 && percents.every((p, i) => i === 0 || p >= (percents[i - 1] as number)));
  t.match(stream.events.at(-1)?.data, { status: 'succeeded', result: { steps: 4 } });

  const cancelled = await submit('fixture.steps', { steps: 50, stepMs: 200 });
  await waitFor('the task to report progress', async () => {
    const job = (await api<Job>('GET', `/v1/jobs/${cancelled}`)).body;
    return job.progress.percent > 0;
  });
  t.equal((await api('POST', `/v1/jobs/${cancelled}/cancel`)).status, 200);
  const job = await ended(cancelled);
  t.match(job, { status: 'cancelled', attempts: 1 });
  t.ok(job.progress.percent < 100, `stopped at ${job.progress.percent} %`);
});

t.test('a worker killed mid-task: another worker finishes the job', async (t) => {
  const id = await submit('fixture.steps', { steps: 20, stepMs: 250 });
  await waitFor('the task to be under way', async () => {
    const job = (await api<Job>('GET', `/v1/jobs/${id}`)).body;
    return job.progress.percent >= 10;
  });
  worker.child.kill('SIGKILL');
  await worker.exited;
  const next = runHookrelay(t, { ...env, HOOKRELAY_ROLE: 'worker' });
  await next.ready();
  const job = await ended(id);
  t.match(job, { status: 'succeeded', attempts: 2, result: { attempt: 2 } });
});

t.test("the service's OpenAPI document names its task types", async (t) => {
  const document = (await (await fetch(`${base}/openapi.json`)).json()) as {
    paths: Record<
      string,
      {
        post?: {
          requestBody: {
            content: Record<string, { schema: { properties: { type: { description: string } } } }>;
          };
        };
      }
    >;
  };
  const description =
    document.paths['/v1/jobs']?.post?.requestBody.content['application/json']?.schema.properties.type
      .description;
  t.match(description, /echo, demo\.report, http, fixture\.outcomes, fixture\.steps, fixture\.transform/);
});
