// The container image, as built here by `npm run test:image` (a base made by container/base.sh, then
// `npm run image`), run with buildah against a real Postgres: it becomes ready, runs a job and delivers its
// signed webhook, its HEALTHCHECK is kept (docker format) and passes, and SIGTERM stops it with exit 0.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { freePort } from '../../src/store/embedded-postgres.ts';
import { VERSION } from '../../src/version.ts';
import { client } from '../helpers/client.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY } from '../helpers/jobs-app.ts';
import { upstream, verifiedWebhook } from '../helpers/upstream.ts';

const run = promisify(execFile);
const TASKS = path.resolve(import.meta.dirname, '..', 'fixtures', 'tasks');
const IMAGE = process.env.HOOKRELAY_IMAGE ?? `localhost/hookrelay:${VERSION}`;
// As container/build.sh builds: no overlay mounts or namespaces needed on this machine.
const env = {
  ...process.env,
  STORAGE_DRIVER: process.env.STORAGE_DRIVER ?? 'vfs',
  BUILDAH_ISOLATION: process.env.BUILDAH_ISOLATION ?? 'chroot',
};
const buildah = async (...args: string[]) => (await run('buildah', args, { env })).stdout.trim();

interface ImageConfig {
  Docker: {
    config: {
      User: string;
      WorkingDir: string;
      Cmd: string[];
      Env: string[];
      Healthcheck?: { Test: string[] };
    };
  };
}

/**
 * The container's node process: the deepest descendant of `buildah run` (pid) running hookrelay. Under chroot
 * isolation a helper holds the same command line and would kill node rather than pass a signal on.
 */
function serviceProcess(pid: number): number {
  // Parents from every process's stat (a Go program's children may belong to any of its threads).
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Gone meanwhile.
    }
  }
  const children = (parent: number) =>
    [...parents].filter(([, ppid]) => ppid === parent).map(([child]) => child);
  let found: number | undefined;
  const queue = children(pid);
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    if (readFileSync(`/proc/${next}/cmdline`, 'utf8').includes('bin/hookrelay.js')) found = next;
    queue.push(...children(next));
  }
  if (found === undefined) throw new Error('no hookrelay process under buildah run');
  return found;
}

const image = JSON.parse(await buildah('inspect', '--type', 'image', IMAGE)) as ImageConfig;
const config = image.Docker.config;

t.test('the image keeps what the Dockerfile says', async (t) => {
  t.equal(config.User, 'node', 'it runs as the unprivileged node user');
  t.equal(config.WorkingDir, '/app');
  t.same(config.Cmd, ['bin/hookrelay.js', 'serve'], "the command, whose first line holds Node's flags");
  t.match(config.Healthcheck?.Test, ['CMD', 'node', '-e', /healthz/], 'the HEALTHCHECK survived the build');
  t.ok(
    config.Env.includes('NODE_EXTRA_CA_CERTS='),
    "the service trusts no CA the base's builds did (only Node's own list)",
  );
});

t.test('run against a Postgres: ready, healthy, a job delivered, stopped by SIGTERM', async (t) => {
  const container = await buildah('from', IMAGE);
  t.teardown(() => buildah('rm', container).catch(() => undefined));
  const port = await freePort();
  const receiver = await upstream(t, () => ({ status: 204 }));
  const service: ChildProcess = spawn(
    'buildah',
    [
      'run',
      ...['--env', `DATABASE_URL=${await freshDatabase(t)}`],
      ...['--env', `PORT=${port}`],
      ...['--env', 'HOST=127.0.0.1'],
      ...['--env', `ADMIN_API_KEY=${ADMIN_KEY}`],
      ...['--env', 'OUTBOUND_ALLOW_CIDRS=127.0.0.0/8'],
      // Task modules mounted where `import … from 'hookrelay'` resolves to the image's own package.
      ...['--volume', `${TASKS}:/app/tasks:ro`, '--env', 'HOOKRELAY_TASKS_DIR=/app/tasks'],
      container,
      '--',
      ...config.Cmd,
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  service.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => service.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (service.exitCode === null) service.kill('SIGKILL');
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    'the container to be ready',
    async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200,
    120_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; stderr: ${stderr.slice(-2000)}`);
  });

  // The image's own HEALTHCHECK command, run inside it as the engine would.
  const probe = config.Healthcheck?.Test.slice(1) ?? [];
  await t.resolves(
    run('buildah', ['run', '--env', `PORT=${port}`, container, '--', ...probe], { env }),
    'the HEALTHCHECK command passes',
  );

  const tenant = (await client(base, ADMIN_KEY)('POST', '/v1/admin/tenants', { name: 'image' })).body as {
    apiKey: string;
    signingSecret: string;
  };
  const job = await client(base, tenant.apiKey)('POST', '/v1/jobs', {
    type: 'echo',
    input: { from: 'the image' },
    callbackUrl: `${receiver.url}/hook`,
  });
  t.equal(job.status, 202);
  const request = await waitFor('the webhook', () => receiver.requests[0], 30_000);
  const event = verifiedWebhook(tenant.signingSecret, request) as { type: string; data: { result: unknown } };
  t.match(event, { type: 'job.succeeded', data: { result: { from: 'the image' } } }, 'signed and delivered');

  const own = (
    await client(base, tenant.apiKey)('POST', '/v1/jobs', {
      type: 'fixture.transform',
      input: { amount: '21' },
    })
  ).body as { id: string };
  const done = (await client(base, tenant.apiKey)('GET', `/v1/jobs/${own.id}?waitSeconds=20`)).body;
  t.match(done, { status: 'succeeded', result: { doubled: 42 } }, 'a task module mounted into the image ran');

  // An engine signals the container's main process; `buildah run` would kill it instead of passing SIGTERM on.
  const main = serviceProcess(service.pid as number);
  t.match(
    readFileSync(`/proc/${main}/cmdline`, 'utf8').split('\0'),
    ['node', '--max-semi-space-size=4', '--max-old-space-size=1024', /bin\/hookrelay\.js$/, 'serve'],
    "Node runs with the flags of the command's first line",
  );
  process.kill(main, 'SIGTERM');
  const code = await exited;
  t.equal(code, 0, `SIGTERM: a graceful stop, exit 0 (${code}); ${stderr.slice(-500)}`);
});
