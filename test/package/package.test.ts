// The package as another project gets it: `npm pack` (which builds dist/), installed into a fresh project
// outside the repository, run with `npx hookrelay serve --tasks ./tasks` on its embedded Postgres. A task file
// in TypeScript, importing `hookrelay`, runs a job whose webhook arrives signed; a broken task file stops the
// start with exit 2, naming the file; a worker program imports the client from `hookrelay/worker`.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { freePort } from '../../src/store/embedded-postgres.ts';
import { client } from '../helpers/client.ts';
import { upstream, verifiedWebhook } from '../helpers/upstream.ts';

const execute = promisify(execFile);
/**
 * Runs a command outside tap's reach: tap's process tracking adds its loader to NODE_OPTIONS in every child it
 * sees spawned, and under it `tsc` (npm pack builds dist/) fails to load. The shell drops it before the command.
 */
const run = (command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }) =>
  execute('sh', ['-c', 'unset NODE_OPTIONS; exec "$@"', 'sh', command, ...args], options);
const root = path.resolve(import.meta.dirname, '..', '..');
const ADMIN = 'package-test-operator-key-0123456789';
// The project runs on the Node this test runs on (24), as a project that pins it would.
const env = {
  ...process.env,
  PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
};

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'hookrelay-package-'));
t.teardown(() => fs.rm(work, { recursive: true, force: true }));

const packed = JSON.parse(
  (
    await run('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: root,
      env,
    })
  ).stdout,
) as Array<{ filename: string; size: number; unpackedSize: number; files: Array<{ path: string }> }>;
const tarball = packed[0] as (typeof packed)[number];
const project = path.join(work, 'my-service');
await fs.mkdir(path.join(project, 'tasks'), { recursive: true });
await fs.writeFile(
  path.join(project, 'package.json'),
  JSON.stringify({ name: 'my-service', private: true, type: 'module' }),
);
await run('npm', ['install', path.join(work, tarball.filename), '--no-audit', '--no-fund'], {
  cwd: project,
  env,
});

t.test('the package holds the built files, not the sources or the tests', async (t) => {
  const files = tarball.files.map((file) => file.path);
  for (const wanted of [
    'bin/hookrelay.js',
    'index.js',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/cli/main.js',
    'worker.js',
    'dist/worker/index.js',
    'dist/worker/index.d.ts',
  ])
    t.ok(files.includes(wanted), wanted);
  t.ok(files.includes('dist/console/index.html'), 'the console');
  t.ok(
    files.some((file) => file.startsWith('migrations/')),
    'the migrations',
  );
  t.notOk(
    files.some((file) => /^(src|test|bench|harness)\//.test(file)),
    'no sources, tests or benchmarks',
  );
  t.comment(
    `${tarball.filename}: ${tarball.size} bytes packed, ${tarball.unpackedSize} unpacked, ${files.length} files`,
  );
});

/** `npx hookrelay serve --tasks ./tasks` in the project, with its own data folder. */
function serve(port: number) {
  const child = spawn('npx', ['hookrelay', 'serve', '--tasks', './tasks'], {
    cwd: project,
    detached: true,
    env: {
      ...env,
      HOOKRELAY_DATA_DIR: path.join(work, 'data'),
      PORT: String(port),
      ADMIN_API_KEY: ADMIN,
      OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

t.test(
  'a TypeScript task in the project runs from node_modules, and its webhook arrives signed',
  async (t) => {
    await fs.writeFile(
      path.join(project, 'tasks', 'greet.ts'),
      `import { defineTask, z } from 'hookrelay';

export default defineTask({
  type: 'greetings.make',
  input: z.object({ name: z.string().min(1) }),
  timeoutSeconds: 30,
  async run({ name }, ctx) {
    await ctx.progress(50, 'thinking');
    return { greeting: \`Hello, \${name}!\`, attempt: ctx.attempt };
  },
});
`,
    );
    const port = await freePort();
    const service = serve(port);
    t.teardown(async () => {
      if (service.child.exitCode === null) process.kill(-(service.child.pid as number), 'SIGKILL');
      await service.exited;
    });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(
      'the installed service to be ready',
      async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200,
      60_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}: ${service.output().slice(-2000)}`);
    });

    const receiver = await upstream(t, () => ({ status: 204 }));
    const tenant = (await client(base, ADMIN)('POST', '/v1/admin/tenants', { name: 'package' })).body as {
      apiKey: string;
      signingSecret: string;
    };
    const api = client(base, tenant.apiKey);
    const types = (await api<{ data: Array<{ name: string; execution: string }> }>('GET', '/v1/job-types'))
      .body;
    t.match(types.data, [
      { name: 'echo' },
      { name: 'demo.report' },
      { name: 'http' },
      { name: 'greetings.make' },
    ]);
    t.equal(types.data.find((type) => type.name === 'greetings.make')?.execution, 'task');
    const refused = await api('POST', '/v1/jobs', { type: 'greetings.make', input: { name: '' } });
    t.equal(refused.status, 400, "input is checked against the task's schema");
    const job = await api('POST', '/v1/jobs', {
      type: 'greetings.make',
      input: { name: 'Ada' },
      callbackUrl: `${receiver.url}/hook`,
    });
    t.equal(job.status, 202);
    const request = await waitFor('the webhook', () => receiver.requests[0], 30_000);
    const event = verifiedWebhook(tenant.signingSecret, request);
    t.match(event, {
      type: 'job.succeeded',
      data: { jobType: 'greetings.make', result: { greeting: 'Hello, Ada!', attempt: 1 } },
    });
    // As a terminal's Ctrl-C or systemd's stop: the whole process group (npx and the service) is signalled.
    process.kill(-(service.child.pid as number), 'SIGTERM');
    await service.exited;
    await waitFor('the service to stop', () => /shutdown complete/.test(service.output()), 30_000);
    const pidFile = path.join(work, 'data', 'pg', 'postmaster.pid');
    await waitFor(
      'its Postgres to stop',
      async () => !(await fs.stat(pidFile).catch(() => undefined)),
      10_000,
    );
    t.pass('stopped cleanly, its Postgres too');
  },
);

t.test("a worker program imports 'hookrelay/worker' from the package", async (t) => {
  await fs.writeFile(
    path.join(project, 'worker.ts'),
    `import { PermanentJobError, runWorker, type Task } from 'hookrelay/worker';

const handler = async (task: Task<{ name: string }>) => ({ greeting: \`Hello, \${task.input.name}!\` });
console.log(typeof runWorker, typeof handler, new PermanentJobError('x').name);
`,
  );
  const { stdout } = await run('node', ['worker.ts'], { cwd: project, env });
  t.equal(stdout.trim(), 'function function PermanentJobError');
});

t.test('a broken task file stops the start with exit 2, naming it', async (t) => {
  await fs.writeFile(
    path.join(project, 'tasks', 'broken.ts'),
    "import { nothing } from 'no-such-package';\n",
  );
  const service = serve(await freePort());
  t.equal(await service.exited, 2);
  t.match(service.output(), /task file \S*tasks\/broken\.ts failed to load/);
  t.notMatch(service.output(), /embedded Postgres ready/, 'nothing was started');
});
