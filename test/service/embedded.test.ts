// With no DATABASE_URL the service runs its own Postgres under HOOKRELAY_DATA_DIR.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
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
