// Cross-tenant probes of every route. The route list comes from the service's own OpenAPI document, so a
// route added later without a probe here fails this test instead of going unprobed.
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { jobsApp } from '../helpers/jobs-app.ts';
import { upstream } from '../helpers/upstream.ts';

const app = await jobsApp(t, { DELIVERY_RETRY_SCHEDULE: '100ms' });
const receiver = await upstream(t, (request) =>
  request.url === '/gone' ? { status: 410 } : { status: 200, body: 'owner-response' },
);
const owner = await app.tenant('owner');
const intruder = await app.tenant('intruder');

interface Listed {
  data: Array<{ id: string }>;
}

// The owner's objects: one of every kind, in every state a probe could disturb.
const endpoint = (await owner.api<{ id: string }>('POST', '/v1/endpoints', { url: `${receiver.url}/ok` }))
  .body;
const gone = (await owner.api<{ id: string }>('POST', '/v1/endpoints', { url: `${receiver.url}/gone` })).body;
const delivered = (
  await owner.api<{ id: string }>('POST', '/v1/jobs', { type: 'echo', input: 'x', endpointId: endpoint.id })
).body;
const failed = (
  await owner.api<{ id: string }>('POST', '/v1/jobs', { type: 'echo', input: 'y', endpointId: gone.id })
).body;
const later = new Date(Date.now() + 3_600_000).toISOString();
const queued = (
  await owner.api<{ id: string }>('POST', '/v1/jobs', { type: 'echo', input: 'z', runAt: later })
).body;
// A remote type no worker claims: the schedule's job stays queued and sends nothing.
await owner.api('PUT', '/v1/job-types/owner.task', { execution: 'remote' });
const schedule = (
  await owner.api<{ id: string }>('POST', '/v1/schedules', {
    cron: '0 0 1 1 *',
    job: { type: 'owner.task', input: 's', endpointId: endpoint.id },
  })
).body;
// The owner's schedule has made a job (it is listed by ?scheduleId=).
await owner.api('POST', `/v1/schedules/${schedule.id}/trigger`);
const message = await waitFor(
  'the owner’s delivered message',
  async () => {
    const page = (
      await owner.api<Listed & { data: Array<{ status: string }> }>(
        'GET',
        `/v1/messages?jobId=${delivered.id}`,
      )
    ).body;
    return page.data[0]?.status === 'delivered' ? page.data[0] : undefined;
  },
  30_000,
);
const deadLetter = await waitFor(
  'the owner’s dead letter',
  async () => (await owner.api<Listed>('GET', `/v1/dead-letters?jobId=${failed.id}`)).body.data[0],
  30_000,
);

/** The owner's object a `{id}` route is about, by the route's collection. */
const idFor: Record<string, string> = {
  jobs: queued.id,
  endpoints: endpoint.id,
  messages: message.id,
  'dead-letters': deadLetter.id,
  schedules: schedule.id,
};
const bodies: Record<string, unknown> = {
  'PATCH /v1/endpoints/{id}': { description: 'taken over' },
  'PATCH /v1/schedules/{id}': { paused: true },
};

const spec = (await app.admin<{ paths: Record<string, Record<string, unknown>> }>('GET', '/openapi.json'))
  .body;
const routes = Object.entries(spec.paths).flatMap(([path, operations]) =>
  Object.keys(operations).map((method) => ({ method: method.toUpperCase(), path })),
);

t.test('every tenant route about one object answers 404 for another tenant’s id', async (t) => {
  const probed = routes.filter((r) => r.path.startsWith('/v1/') && !r.path.startsWith('/v1/admin/'));
  const byId = probed.filter((r) => r.path.includes('{id}'));
  t.ok(byId.length >= 16, `${byId.length} routes take an id`);
  for (const route of byId) {
    const collection = route.path.split('/')[2] as string;
    const id = idFor[collection];
    t.ok(id, `a probe exists for ${route.method} ${route.path}`);
    const path = route.path.replace('{id}', id ?? 'missing');
    const response = await intruder.api(route.method, path, bodies[`${route.method} ${route.path}`]);
    t.equal(response.status, 404, `${route.method} ${path}`);
    t.notOk(JSON.stringify(response.body).includes('owner'), 'nothing of the owner in the answer');
  }
});

/** Lists of what the service offers every tenant alike (built-in and task job types), not of tenants' objects. */
const SHARED_LISTS = ['/v1/job-types'];

t.test('lists and filters never show another tenant’s objects', async (t) => {
  const lists = routes.filter(
    (r) =>
      r.method === 'GET' &&
      r.path.startsWith('/v1/') &&
      !r.path.startsWith('/v1/admin/') &&
      !r.path.includes('{') &&
      !SHARED_LISTS.includes(r.path),
  );
  t.same(
    lists.map((r) => r.path).sort(),
    ['/v1/dead-letters', '/v1/endpoints', '/v1/jobs', '/v1/messages', '/v1/schedules'],
    'every list is probed',
  );
  // The owner's own remote type aside, the service's types, the same for every tenant.
  const shared = (list: Listed) => ({
    data: list.data.filter((type) => (type as { execution?: string }).execution !== 'remote'),
  });
  for (const path of SHARED_LISTS)
    t.same(
      (await intruder.api<Listed>('GET', path)).body,
      shared((await owner.api<Listed>('GET', path)).body),
      `${path} is the service's, the same for every tenant`,
    );
  for (const list of lists) {
    for (const query of ['', `?jobId=${failed.id}`, `?endpointId=${gone.id}`, `?scheduleId=${schedule.id}`]) {
      const response = await intruder.api<Listed>('GET', `${list.path}${query}`);
      if (response.status === 200) t.same(response.body.data, [], `${list.path}${query} is empty`);
      else t.equal(response.status, 400, `${list.path}${query}: a filter this list does not take`);
    }
  }
});

t.test('references in bodies cannot reach another tenant’s objects', async (t) => {
  const submitted = await intruder.api('POST', '/v1/jobs', {
    type: 'echo',
    input: 1,
    endpointId: endpoint.id,
  });
  t.equal(submitted.status, 422, "a job cannot be sent to another tenant's endpoint");
  const scheduled = await intruder.api('POST', '/v1/schedules', {
    cron: '@daily',
    job: { type: 'echo', input: 1, endpointId: endpoint.id },
  });
  t.equal(scheduled.status, 422, "nor can a schedule's job");
  const replay = await intruder.api('POST', '/v1/dead-letters/replay', { endpointId: gone.id });
  t.same(replay.body, { replayed: 0 }, "a bulk replay never touches another tenant's dead letters");
});

t.test('tenant keys reach no operator route; the operator key reaches no tenant route', async (t) => {
  const operator = routes.filter((r) => r.path.startsWith('/v1/admin/'));
  t.ok(operator.length >= 6, `${operator.length} operator routes`);
  for (const route of operator) {
    const path = route.path.replace('{id}', owner.id).replace('{keyId}', 'key_00000000000000000000000000');
    t.equal(
      (await intruder.api(route.method, path, route.method === 'POST' ? { name: 'x' } : undefined)).status,
      403,
      `${route.method} ${path}`,
    );
  }
  // Task reports take no key at all: the task token in their path is the credential (test/remote/).
  const keyed = (path: string) => path.startsWith('/v1/') && !/^\/v1\/(admin|tasks)\//.test(path);
  for (const route of routes.filter((r) => keyed(r.path))) {
    const path = route.path.replace('{id}', idFor[route.path.split('/')[2] as string] ?? '');
    t.equal((await app.admin(route.method, path)).status, 403, `operator key: ${route.method} ${path}`);
  }
});

t.test('after every probe, the owner’s objects are as they were', async (t) => {
  t.equal((await owner.api<{ status: string }>('GET', `/v1/jobs/${queued.id}`)).body.status, 'queued');
  t.equal(
    (await owner.api<{ description: string }>('GET', `/v1/endpoints/${endpoint.id}`)).body.description,
    '',
  );
  const letter = (await owner.api<{ replayedAt: string | null }>('GET', `/v1/dead-letters/${deadLetter.id}`))
    .body;
  t.equal(letter.replayedAt, null, 'the dead letter was neither replayed nor discarded');
  const sent = (await owner.api<{ attempts: unknown[] }>('GET', `/v1/messages/${message.id}`)).body;
  t.equal(sent.attempts.length, 1, 'the message was not resent');
  t.equal(
    receiver.requests.filter((r) => r.url === '/ok').length,
    1,
    'the receiver got only the owner’s one',
  );
});
