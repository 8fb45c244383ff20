// The `hookrelay` process as an operator runs it: start-up errors, roles, migrate, and shutdown.
import net from 'node:net';
import pg from 'pg';
import t from 'tap';
import type { LogLine, ServiceProcess } from '../../harness/service.ts';
import { freshDatabase } from '../helpers/database.ts';
import { runHookrelay } from '../helpers/process.ts';

const STACK_LINE = /^\s+at /m;

t.test('bad configuration exits 2 naming each variable, without a stack trace', async (t) => {
  const service = runHookrelay(t, { PORT: 'eighty', HOOKRELAY_ROLE: 'both', DELIVERY_TIMEOUT: '15' });
  const { code } = await service.exited;
  t.equal(code, 2);
  const stderr = service.stderr();
  t.match(stderr, /PORT: .*\(got "eighty"\)/);
  t.match(stderr, /HOOKRELAY_ROLE: .*\(got "both"\)/);
  t.match(stderr, /DELIVERY_TIMEOUT: expected a duration/);
  t.notMatch(stderr, STACK_LINE);
});

t.test('an unreachable database exits 1 with a clear message, without a stack trace', async (t) => {
  const service = runHookrelay(t, { DATABASE_URL: 'postgres://hookrelay:pw@127.0.0.1:1/hookrelay' });
  const { code } = await service.exited;
  t.equal(code, 1);
  t.match(service.stderr(), /cannot reach the database \(.*ECONNREFUSED.*\); check DATABASE_URL/);
  t.notMatch(service.stderr(), STACK_LINE);
  t.notMatch(service.stderr(), /pw@/, 'the password is not printed');
});

t.test('SIGTERM drains and exits 0; the port is closed afterwards', async (t) => {
  const service = runHookrelay(t, { DATABASE_URL: await freshDatabase(t) });
  const url = await service.ready();
  t.equal((await fetch(`${url}/readyz`)).status, 200);
  service.child.kill('SIGTERM');
  const { code } = await service.exited;
  t.equal(code, 0);
  t.ok(service.logs.some((l) => l.msg === 'shutdown complete'));
  await t.rejects(fetch(`${url}/healthz`), 'nothing listens any more');
});

t.test('SIGINT stops the same way', async (t) => {
  const service = runHookrelay(t, { DATABASE_URL: await freshDatabase(t) });
  await service.ready();
  service.child.kill('SIGINT');
  t.equal((await service.exited).code, 0);
});

/** Opens a request whose body has not arrived yet: in flight until `finish` sends it. */
async function halfSentRequest(service: ServiceProcess, base: string) {
  const { port } = new URL(base);
  const socket = net.connect(Number(port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    'POST /v1/nothing HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n',
  );
  let response = '';
  socket.on('data', (chunk) => {
    response += chunk.toString();
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  // Until the server has parsed the headers, the socket counts as idle and shutdown would just close it.
  await service.waitForLog(
    (l) => l.msg === 'incoming request' && (l.req as { url?: string }).url === '/v1/nothing',
  );
  return {
    finish: async () => {
      socket.write('{}');
      await closed;
      return response;
    },
    socket,
  };
}

const draining = (l: LogLine) => l.msg?.startsWith('shutting down: draining in-flight work') === true;

t.test('a request in flight at SIGTERM completes before the process exits', async (t) => {
  const service = runHookrelay(t, { DATABASE_URL: await freshDatabase(t) });
  const base = await service.ready();
  const request = await halfSentRequest(service, base);
  service.child.kill('SIGTERM');
  await service.waitForLog(draining);
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(service.child.exitCode, null, 'still draining while the request is open');
  const response = await request.finish();
  t.match(response, /^HTTP\/1\.1 404 /, 'the in-flight request got its answer');
  t.equal((await service.exited).code, 0);
});

t.test('copies of the signal within a second are one request: the drain goes on', async (t) => {
  const service = runHookrelay(t, { DATABASE_URL: await freshDatabase(t) });
  const base = await service.ready();
  const request = await halfSentRequest(service, base);
  // As a terminal's Ctrl-C under npm arrives: from the terminal, and again forwarded by npm.
  service.child.kill('SIGINT');
  await service.waitForLog(draining);
  service.child.kill('SIGINT');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(service.child.exitCode, null, 'still draining after the copy');
  t.match(await request.finish(), /^HTTP\/1\.1 404 /, 'the in-flight request got its answer');
  t.equal((await service.exited).code, 0);
  t.notOk(service.logs.some((l) => l.msg === 'second signal: exiting without waiting'));
});

t.test('a second signal more than a second later exits at once without waiting for the drain', async (t) => {
  const service = runHookrelay(t, { DATABASE_URL: await freshDatabase(t) });
  const base = await service.ready();
  const request = await halfSentRequest(service, base);
  t.teardown(() => request.socket.destroy());
  service.child.kill('SIGTERM');
  await service.waitForLog(draining);
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  service.child.kill('SIGTERM');
  const { code } = await service.exited;
  t.equal(code, 143, '128 + SIGTERM');
  t.ok(service.logs.some((l) => l.msg === 'second signal: exiting without waiting'));
  t.notOk(service.logs.some((l) => l.msg === 'shutdown complete'));
});

t.test('a drain that outlasts SHUTDOWN_TIMEOUT exits 1', async (t) => {
  const service = runHookrelay(t, { DATABASE_URL: await freshDatabase(t), SHUTDOWN_TIMEOUT: '1s' });
  const base = await service.ready();
  const request = await halfSentRequest(service, base);
  t.teardown(() => request.socket.destroy());
  service.child.kill('SIGTERM');
  t.equal((await service.exited).code, 1);
  t.ok(service.logs.some((l) => l.msg === 'shutdown deadline passed: exiting with work unfinished'));
});

t.test('api, worker and all-in-one processes start together on one database', async (t) => {
  const url = await freshDatabase(t);
  const roles = ['all', 'api', 'worker', 'api'];
  const services = roles.map((role) => runHookrelay(t, { DATABASE_URL: url, HOOKRELAY_ROLE: role }));
  const urls = await Promise.all(services.map((s) => s.ready()));
  for (const [i, base] of urls.entries()) {
    t.equal((await fetch(`${base}/readyz`)).status, 200, `${roles[i]} process is ready`);
  }
  const applied = services.flatMap((s) =>
    s.logs.filter((l) => l.msg === 'migration applied').map((l) => l.migration),
  );
  t.same(applied, [...new Set(applied)], 'each migration applied by exactly one process');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query(
    'select name, count(*)::int as n from hookrelay_migrations group by name',
  );
  await client.end();
  t.ok(rows.length > 0 && rows.every((row) => row.n === 1));
  for (const service of services) service.child.kill('SIGTERM');
  const exits = await Promise.all(services.map((s) => s.exited));
  t.same(
    exits.map((e) => e.code),
    roles.map(() => 0),
  );
});

t.test('`hookrelay migrate` prepares a database and exits 0; a second run changes nothing', async (t) => {
  const url = await freshDatabase(t);
  const first = runHookrelay(t, { DATABASE_URL: url }, ['migrate']);
  t.equal((await first.exited).code, 0, first.stderr());
  t.ok(first.logs.some((l) => l.msg === 'migrations applied'));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  t.teardown(() => client.end());
  const tables = await client.query(
    "select to_regclass('public.hookrelay_migrations') as ours, to_regclass('pgboss.job') as boss",
  );
  t.ok(tables.rows[0].ours, 'our migrations table exists');
  t.ok(tables.rows[0].boss, 'pg-boss schema is installed');
  const second = runHookrelay(t, { DATABASE_URL: url }, ['migrate']);
  t.equal((await second.exited).code, 0);
  t.ok(second.logs.some((l) => l.msg === 'database already up to date'));
});
