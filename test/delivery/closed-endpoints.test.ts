// Closing an endpoint (disabling or deleting it) changes one row and returns; what waits for it is dead-lettered
// afterwards by a drain, in batches, with one endpoint.disabled alert carrying the count. Claims leave a closed
// endpoint's messages alone meanwhile, and a sweep drains messages that reach a closed endpoint later.
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { drainStranded } from '../../src/delivery/drain.ts';
import { jobsApp } from '../helpers/jobs-app.ts';
import { type Recorded, upstream, verifiedWebhook } from '../helpers/upstream.ts';

const app = await jobsApp(t, { DELIVERY_RETRY_SCHEDULE: '1h' });
const db = app.ctx.pool;

const count = async (sql: string, values: unknown[]) => Number((await db.query(sql, values)).rows[0].count);

/** A tenant with a pager endpoint for operational events and an endpoint with `waiting` pending messages. */
async function setup(t: Test, waiting: number) {
  const tenant = await app.tenant('closing');
  const pager = await upstream(t, () => ({ status: 200 }));
  const receiver = await upstream(t, () => ({ status: 200 }));
  const alerts = (
    await tenant.api<{ id: string; secret: string }>('POST', '/v1/endpoints', {
      url: pager.url,
      eventTypes: ['endpoint.disabled', 'message.dead_lettered'],
    })
  ).body;
  const endpoint = (await tenant.api<{ id: string }>('POST', '/v1/endpoints', { url: receiver.url })).body;
  // A day of backlog, as a receiver that was down leaves it: waiting for retries an hour away.
  await db.query(
    `insert into messages (id, tenant_id, endpoint_id, url, event_type, payload, receiver, attempts, next_attempt_at)
     select 'msg_w' || $3 || lpad(i::text, 6, '0'), $1, $2, 'http://x', 'job.succeeded', '{}', $2, 1,
            now() + interval '1 hour'
       from generate_series(1, $4) i`,
    [tenant.id, endpoint.id, endpoint.id.slice(-6), waiting],
  );
  const events = () => pager.requests.map((request: Recorded) => verifiedWebhook(alerts.secret, request));
  return { tenant, receiver, endpoint, events };
}

for (const [how, close, reason, cause] of [
  ['disabling', 'PATCH', 'endpoint_disabled', 'disabled'],
  ['deleting', 'DELETE', 'endpoint_deleted', 'deleted'],
] as const) {
  t.test(
    `${how} an endpoint dead-letters its 2,500 waiting messages afterwards, with one alert`,
    async (t) => {
      const { tenant, endpoint, events } = await setup(t, 2_500);
      const response = await tenant.api(
        close,
        `/v1/endpoints/${endpoint.id}`,
        close === 'PATCH' ? { disabled: true } : undefined,
      );
      t.equal(response.status, close === 'PATCH' ? 200 : 204);
      await waitFor(
        'the drain to dead-letter every pending message',
        async () =>
          (await count("select count(*) from messages where endpoint_id = $1 and status = 'pending'", [
            endpoint.id,
          ])) === 0,
      );
      t.equal(
        await count('select count(*) from dead_letters where endpoint_id = $1 and reason = $2', [
          endpoint.id,
          reason,
        ]),
        2_500,
      );
      await waitFor('the endpoint.disabled alert', () => events().length > 0);
      await sleep(300);
      t.same(
        events().map((e) => e.type),
        ['endpoint.disabled'],
        'one alert for the endpoint, none per message',
      );
      t.match(events()[0]?.data, { endpointId: endpoint.id, cause, deadLettered: 2_500 });
    },
  );
}

t.test('deleting another tenant’s endpoint is a 404 that touches nothing of theirs', async (t) => {
  const { endpoint } = await setup(t, 10);
  const stranger = await app.tenant('stranger');
  t.equal((await stranger.api('DELETE', `/v1/endpoints/${endpoint.id}`)).status, 404);
  t.equal((await stranger.api('PATCH', `/v1/endpoints/${endpoint.id}`, { disabled: true })).status, 404);
  await sleep(2_500);
  t.equal(
    await count("select count(*) from messages where endpoint_id = $1 and status = 'pending'", [endpoint.id]),
    10,
  );
});

t.test('claims leave a closed endpoint alone; the sweep drains what reaches it later', async (t) => {
  const { tenant, receiver, endpoint, events } = await setup(t, 0);
  await tenant.api('PATCH', `/v1/endpoints/${endpoint.id}`, { disabled: true });
  await waitFor('the (empty) drain’s alert', () => events().length > 0);
  // Messages that reach it after its drain (a job naming it, a replay), due now.
  await db.query(
    `insert into messages (id, tenant_id, endpoint_id, url, event_type, payload, receiver, next_attempt_at)
     select 'msg_late' || i, $1, $2, 'http://x', 'job.succeeded', '{}', $2, now() from generate_series(1, 3) i`,
    [tenant.id, endpoint.id],
  );
  await sleep(1_500);
  t.equal(receiver.requests.length, 0, 'nothing sent to a disabled endpoint');
  t.equal(
    await count("select count(*) from messages where endpoint_id = $1 and status = 'pending'", [endpoint.id]),
    3,
    'nor dead-lettered one by one: claims pass the endpoint over',
  );
  t.equal(await drainStranded(app.ctx), 1, 'one closed endpoint with messages waiting');
  await waitFor(
    'the sweep’s drain to dead-letter the 3 late messages',
    async () =>
      (await count("select count(*) from messages where endpoint_id = $1 and status = 'dead'", [
        endpoint.id,
      ])) === 3,
  );
  await sleep(300);
  t.equal(events().length, 1, 'no further alert: nothing changed about the endpoint');
});
