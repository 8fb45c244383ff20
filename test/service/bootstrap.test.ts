// A new database with no ADMIN_API_KEY gets one operator key, printed once.
import t from 'tap';
import { client } from '../helpers/client.ts';
import { freshDatabase } from '../helpers/database.ts';
import { runHookrelay } from '../helpers/process.ts';

const KEY_LINE = /^ {2}(hr_[\w-]{43})$/m;

t.test('the first start prints an operator key once; it works and survives restarts', async (t) => {
  const url = await freshDatabase(t);
  const first = runHookrelay(t, { DATABASE_URL: url });
  const base = await first.ready();
  const key = KEY_LINE.exec(first.stderr())?.[1];
  t.ok(key, 'an operator key was printed');
  t.notOk(JSON.stringify(first.logs).includes(key ?? 'none'), 'the key is not in the structured log');
  t.equal((await client(base, key)('POST', '/v1/admin/tenants', { name: 'x' })).status, 201);
  first.child.kill('SIGTERM');
  await first.exited;

  const second = runHookrelay(t, { DATABASE_URL: url });
  const again = await second.ready();
  t.notMatch(second.stderr(), KEY_LINE, 'no new key on later starts');
  t.equal((await client(again, key)('GET', '/v1/admin/tenants')).status, 200, 'the first key still works');
});

t.test('with ADMIN_API_KEY set, no key is generated and admin routes use it', async (t) => {
  const admin = 'configured-operator-key-0123456789';
  const service = runHookrelay(t, { DATABASE_URL: await freshDatabase(t), ADMIN_API_KEY: admin });
  const base = await service.ready();
  t.notMatch(service.stderr(), KEY_LINE);
  t.equal((await client(base, admin)('GET', '/v1/admin/tenants')).status, 200);
  t.equal((await client(base)('GET', '/v1/admin/tenants')).status, 401);
});
