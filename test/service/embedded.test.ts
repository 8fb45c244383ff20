// With no DATABASE_URL the service runs its own Postgres under HOOKRELAY_DATA_DIR.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { client } from '../helpers/client.ts';
import { runHookrelay } from '../helpers/process.ts';

const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'hookrelay-embedded-'));
t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
const env = { HOOKRELAY_DATA_DIR: dataDir };
const pidFile = path.join(dataDir, 'pg', 'postmaster.pid');
const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false,
  );

t.test('first start creates the database and becomes ready; SIGTERM stops Postgres too', async (t) => {
  const service = runHookrelay(t, env);
  const url = await service.ready(60_000);
  t.equal((await fetch(`${url}/readyz`)).status, 200);
  t.ok(service.logs.some((l) => l.msg === 'creating the embedded Postgres data directory (first start)'));
  t.ok(service.logs.some((l) => l.msg === 'migration applied'));
  service.child.kill('SIGTERM');
  t.equal((await service.exited).code, 0);
  t.notOk(await exists(pidFile), 'Postgres was stopped with the service');
});

t.test('a second start reuses the data', async (t) => {
  const service = runHookrelay(t, env);
  await service.ready(60_000);
  t.notOk(service.logs.some((l) => l.msg === 'creating the embedded Postgres data directory (first start)'));
  t.notOk(
    service.logs.some((l) => l.msg === 'migration applied'),
    'migrations were recorded in the kept data',
  );
  service.child.kill('SIGTERM');
  t.equal((await service.exited).code, 0);
});

t.test('a Postgres left running by a killed process is adopted, then stopped', async (t) => {
  const killed = runHookrelay(t, env);
  await killed.ready(60_000);
  killed.child.kill('SIGKILL');
  await killed.exited;
  t.ok(await exists(pidFile), 'Postgres outlived the killed process (it runs in its own session)');

  const next = runHookrelay(t, env);
  const url = await next.ready(60_000);
  t.ok(next.logs.some((l) => l.msg === 'adopted a running embedded Postgres'));
  t.equal((await fetch(`${url}/readyz`)).status, 200);
  next.child.kill('SIGTERM');
  t.equal((await next.exited).code, 0);
  t.notOk(await exists(pidFile), 'the adopted Postgres was stopped');
});

t.test(
  'Ctrl-C on `npm start` (every process in its group signalled) drains, exits 0 and stops Postgres',
  async (t) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hookrelay-ctrl-c-'));
    t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
    const admin = 'ctrl-c-operator-key-0123456789';
    // Its own process group, as a terminal's foreground job: the group gets the signal, and npm forwards it too.
    const npm = spawn('npm', ['start', '--silent'], {
      cwd: path.resolve(import.meta.dirname, '..', '..'),
      detached: true,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? dir,
        HOOKRELAY_DATA_DIR: dir,
        PORT: '0',
        ADMIN_API_KEY: admin,
        LOG_LEVEL: 'debug',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.teardown(() => {
      if (npm.exitCode === null) process.kill(-(npm.pid as number), 'SIGKILL');
    });
    const exited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
    let out = '';
    npm.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    npm.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const logs = () =>
      out
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map(
          (line) => JSON.parse(line) as { msg?: string; url?: string; outcome?: string; attempt?: number },
        );
    const ready = await waitFor(
      'the service to be ready',
      () => logs().find((l) => l.msg === 'hookrelay ready'),
      60_000,
    );
    const base = String(ready.url);

    const tenant = await client(base, admin)('POST', '/v1/admin/tenants', { name: 'ctrl-c' });
    const api = client(base, String(tenant.body.apiKey));
    const job = await api('POST', '/v1/jobs', { type: 'demo.report', input: { steps: 2, stepMs: 1_000 } });
    t.equal(job.status, 202);
    await waitFor(
      'the job to run',
      async () => (await api('GET', `/v1/jobs/${job.body.id}`)).body.status === 'running',
    );

    process.kill(-(npm.pid as number), 'SIGINT');
    t.equal(await exited, 0, 'npm start exited 0');
    const lines = logs();
    t.notOk(
      lines.some((l) => l.msg === 'second signal: exiting without waiting'),
      'the copies were one request',
    );
    t.ok(lines.some((l) => l.msg === 'shutdown complete'));
    t.ok(
      lines.some((l) => l.msg === 'job attempt finished' && l.outcome === 'succeeded' && l.attempt === 1),
      'the running job finished during the drain, on its first attempt',
    );
    t.notOk(await exists(path.join(dir, 'pg', 'postmaster.pid')), 'Postgres was stopped with the service');
  },
);
