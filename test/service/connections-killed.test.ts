// Every database connection of a running service is terminated, repeatedly, while jobs arrive and deliveries
// run: what a Postgres restart or failover does to it. The process must stay up, answer 202 or 503 (never
// another 5xx), and deliver every job it accepted. (`npm run chaos` restarts a real Postgres server too.)
import pg from 'pg';
import t from 'tap';
import { client } from '../helpers/client.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY } from '../helpers/jobs-app.ts';
import { runHookrelay } from '../helpers/process.ts';
import { upstream } from '../helpers/upstream.ts';

t.test('terminated connections: no crash, no 500, nothing accepted lost', async (t) => {
  const url = await freshDatabase(t);
  const receiver = await upstream(t, () => ({ status: 200 }));
  const service = runHookrelay(t, {
    DATABASE_URL: url,
    ADMIN_API_KEY: ADMIN_KEY,
    OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
  });
  const base = await service.ready();
  const tenant = (
    await client(base, ADMIN_KEY)<{ apiKey: string }>('POST', '/v1/admin/tenants', { name: 'k' })
  ).body;
  const api = client(base, tenant.apiKey);
  const endpoint = (await api<{ id: string }>('POST', '/v1/endpoints', { url: `${receiver.url}/hook` })).body;

  const killer = new pg.Client({ connectionString: url });
  await killer.connect();
  t.teardown(() => killer.end());
  const database = new URL(url).pathname.slice(1);

  const accepted: string[] = [];
  const statuses = new Map<number, number>();
  for (let round = 0; round < 5; round++) {
    const submissions = Array.from({ length: 40 }, (_, i) =>
      api<{ id: string }>('POST', '/v1/jobs', {
        type: 'echo',
        input: { round, i },
        endpointId: endpoint.id,
      }).then((response) => {
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status === 202) accepted.push(response.body.id);
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 20 * round));
    // The previous round may have left no connection open yet (pools reconnect on demand, the listener after
    // a second): wait, within bounds, for the service to be connected again, so there is something to kill.
    for (let wait = 0; wait < 100; wait++) {
      const open = await killer.query<{ n: number }>(
        'select count(*)::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
        [database],
      );
      if ((open.rows[0]?.n ?? 0) > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const { rowCount } = await killer.query(
      'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [database],
    );
    t.ok((rowCount ?? 0) > 0, `round ${round}: ${rowCount} connections terminated`);
    await Promise.all(submissions);
  }

  t.same(
    [...statuses.keys()].filter((status) => status !== 202 && status !== 503),
    [],
    `only 202 and 503 answers (${JSON.stringify(Object.fromEntries(statuses))})`,
  );
  t.ok(accepted.length > 0, `${accepted.length} jobs accepted`);
  const ids = new Set(accepted);
  for (
    let i = 0;
    i < 900 && [...ids].some((id) => !receiver.requests.some((r) => r.headers['x-job-id'] === id));
    i++
  ) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const arrived = new Set(receiver.requests.map((r) => String(r.headers['x-job-id'])));
  const missing = [...ids].filter((id) => !arrived.has(id));
  const states = await Promise.all(
    missing.slice(0, 5).map(async (id) => (await api('GET', `/v1/jobs/${id}`)).body),
  );
  t.equal(missing.length, 0, 'every accepted job was delivered', { states });
  t.equal(service.child.exitCode, null, 'the process is still running');
  t.equal((await fetch(`${base}/readyz`)).status, 200, 'and ready');
  const errors = service.logs.filter((line) => Number(line.level) >= 50);
  t.same(errors, [], 'nothing logged as an error');
});
