// A worker killed in the middle of deliveries: after a new worker starts, every message is delivered at
// least once, and any duplicate carries the same webhook-id.
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { client } from '../helpers/client.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY } from '../helpers/jobs-app.ts';
import { runHookrelay } from '../helpers/process.ts';
import { upstream } from '../helpers/upstream.ts';

const JOBS = 20;

t.test('a worker killed mid-delivery loses nothing', async (t) => {
  let slow = true;
  const receiver = await upstream(t, () => (slow ? { status: 200, delayMs: 5_000 } : { status: 200 }));
  const env = {
    DATABASE_URL: await freshDatabase(t),
    ADMIN_API_KEY: ADMIN_KEY,
    OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
    // Short leases, so the killed worker's messages fall due in seconds (production's are 30 s).
    JOB_HEARTBEAT: '5s',
    DELIVERY_LEASE: '5s',
    DELIVERY_TIMEOUT: '30s',
  };
  const api = runHookrelay(t, { ...env, HOOKRELAY_ROLE: 'api' });
  const doomed = runHookrelay(t, { ...env, HOOKRELAY_ROLE: 'worker' });
  const [base] = await Promise.all([api.ready(), doomed.ready()]);
  const tenant = (await client(base as string, ADMIN_KEY)('POST', '/v1/admin/tenants', { name: 'x' }))
    .body as { apiKey: string };
  const tenantApi = client(base as string, tenant.apiKey);
  for (let i = 0; i < JOBS; i++) {
    const response = await tenantApi('POST', '/v1/jobs', {
      type: 'echo',
      input: i,
      callbackUrl: `${receiver.url}/hook`,
    });
    t.equal(response.status, 202);
  }
  await waitFor('5 deliveries under way', () => receiver.requests.length >= 5, 30_000);
  doomed.child.kill('SIGKILL');
  await doomed.exited;
  const killedAt = Date.now();
  slow = false;

  const rescuer = runHookrelay(t, { ...env, HOOKRELAY_ROLE: 'worker' });
  await rescuer.ready();
  interface Page {
    data: Array<{ id: string; status: string }>;
  }
  let delivered: Page['data'] = [];
  // Past the deadline the assertions below still report how many were delivered.
  await waitFor(
    `all ${JOBS} messages delivered after the restart`,
    async () => {
      const page = (await tenantApi<Page>('GET', '/v1/messages?limit=100')).body;
      delivered = page.data.filter((m) => m.status === 'delivered');
      return page.data.length === JOBS && delivered.length === JOBS;
    },
    90_000,
  ).catch(() => undefined);
  t.equal(delivered.length, JOBS, 'every message was delivered');
  const ids = receiver.requests.map((r) => String(r.headers['webhook-id']));
  for (const message of delivered) t.ok(ids.includes(message.id), `${message.id} reached the receiver`);
  t.ok(
    ids.length >= JOBS,
    `${ids.length} requests for ${JOBS} messages (duplicates are retries of one webhook-id)`,
  );
  t.ok(
    ids.every((id) => delivered.some((m) => m.id === id)),
    'no request carried an unknown webhook-id',
  );
  t.comment(
    `all delivered ${Date.now() - killedAt} ms after the kill; ${ids.length - JOBS} duplicate requests`,
  );
});
