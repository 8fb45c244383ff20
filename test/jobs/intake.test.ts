// Submitting jobs: validation, bounds, idempotency, quotas and rate limits, tenant scoping.
import t from 'tap';
import { client } from '../helpers/client.ts';
import { jobsApp } from '../helpers/jobs-app.ts';

// No workers: jobs stay queued, which is what intake tests look at.
const app = await jobsApp(t, { TENANT_MAX_QUEUED_JOBS: '1000' }, { workers: false });
const acme = await app.tenant('acme');
/** A start far enough ahead that no worker would take the job during the test. */
const LATER = new Date(Date.now() + 30 * 86_400_000).toISOString();

t.test('a job is accepted with 202, Location, and both rows committed together', async (t) => {
  const response = await acme.api('POST', '/v1/jobs', {
    type: 'echo',
    input: { hello: 'world' },
    metadata: { order: 7 },
  });
  t.equal(response.status, 202);
  const id = response.body.id as string;
  t.match(id, /^job_[0-9A-Z]{26}$/);
  t.equal(response.headers.get('location'), `/v1/jobs/${id}`);
  t.same(Object.keys(response.body).sort(), ['createdAt', 'id', 'status', 'statusUrl']);
  t.equal(response.body.status, 'queued');

  const job = await acme.api('GET', `/v1/jobs/${id}`);
  t.equal(job.status, 200);
  t.match(job.body, {
    id,
    type: 'echo',
    status: 'queued',
    progress: { percent: 0, message: null },
    attempts: 0,
    maxAttempts: 3,
    input: { hello: 'world' },
    result: null,
    error: null,
    metadata: { order: 7 },
    startedAt: null,
    completedAt: null,
    statusUrl: `/v1/jobs/${id}`,
    resultUrl: `/v1/jobs/${id}/result`,
  });
  const { rows } = await app.ctx.pool.query(
    'select status, next_attempt_at <= now() as due, lease_id is not null as leased from jobs where id = $1',
    [id],
  );
  t.same(rows[0], { status: 'queued', due: true, leased: true }, 'the job row is its queue entry, due now');
});

t.test('invalid submissions are 400 with each field, unknown types 422', async (t) => {
  const cases: Array<[unknown, number, string[]]> = [
    [{}, 400, ['body.type', 'body.input']],
    [{ type: 'echo' }, 400, ['body.input']],
    [{ type: 'echo', input: 1, extra: true }, 400, ['body']],
    [{ type: 'echo', input: 1, timeoutSeconds: 0 }, 400, ['body.timeoutSeconds']],
    [{ type: 'echo', input: 1, timeoutSeconds: 1.5 }, 400, ['body.timeoutSeconds']],
    [{ type: 'echo', input: 1, maxAttempts: 26 }, 400, ['body.maxAttempts']],
    [{ type: 'echo', input: 1, priority: 101 }, 400, ['body.priority']],
    [{ type: 'echo', input: 1, runAt: 'tomorrow' }, 400, ['body.runAt']],
    [{ type: 'echo', input: 1, runAt: '2999-01-01T00:00:00Z' }, 400, ['body.runAt']],
    [{ type: 'echo', input: 1, callbackUrl: 'ftp://example.com/x' }, 400, ['body.callbackUrl']],
    [{ type: 'echo', input: 1, metadata: 'x' }, 400, ['body.metadata']],
    [{ type: 'echo', input: 1, metadata: { big: 'x'.repeat(17_000) } }, 400, ['body.metadata']],
    [{ type: 'demo.report', input: { steps: 0 } }, 400, ['body.input.steps']],
    [
      { type: 'demo.report', input: { steps: 'many', stepMs: -1 } },
      400,
      ['body.input.steps', 'body.input.stepMs'],
    ],
    [
      { type: 'http', input: { url: 'http://example.com', headers: { Host: 'evil' } } },
      400,
      ['body.input.headers'],
    ],
    [{ type: 'nope', input: {} }, 422, []],
  ];
  for (const [body, status, paths] of cases) {
    const response = await acme.api('POST', '/v1/jobs', body);
    t.equal(response.status, status, JSON.stringify(body).slice(0, 80));
    t.match(response.headers.get('content-type'), /problem\+json/);
    const got = ((response.body.errors ?? []) as Array<{ path: string }>).map((e) => e.path);
    for (const path of paths) t.ok(got.includes(path), `${path} reported`);
  }
  const unknown = await acme.api('POST', '/v1/jobs', { type: 'nope', input: {} });
  t.match(unknown.body.detail, /known types: .*echo/);
});

t.test('callback URLs the guard refuses are 422 at submission', async (t) => {
  for (const callbackUrl of [
    'http://10.0.0.5/hook',
    'http://169.254.169.254/latest',
    'http://[::1]:8080/',
    'https://user:pw@example.com/',
  ]) {
    const response = await acme.api('POST', '/v1/jobs', { type: 'echo', input: 1, callbackUrl });
    t.equal(response.status, 422, callbackUrl);
    t.match(response.body.detail, /callbackUrl is not allowed/);
  }
  const allowed = await acme.api('POST', '/v1/jobs', {
    type: 'echo',
    input: 1,
    callbackUrl: 'http://127.0.0.1:9/hook',
  });
  t.equal(allowed.status, 202, 'an allow-listed range (127.0.0.0/8 here) is accepted');
});

t.test('Idempotency-Key: same body → the same job (200), another body → 409', async (t) => {
  const body = { type: 'echo', input: { n: 1 }, metadata: { a: 1, b: 2 } };
  const first = await acme.api('POST', '/v1/jobs', body, { 'idempotency-key': 'order-1' });
  t.equal(first.status, 202);
  const reordered = { metadata: { b: 2, a: 1 }, input: { n: 1 }, type: 'echo' };
  const again = await acme.api('POST', '/v1/jobs', reordered, { 'idempotency-key': 'order-1' });
  t.equal(again.status, 200, 'key order in the body does not matter');
  t.equal(again.body.id, first.body.id);
  t.equal(again.headers.get('location'), `/v1/jobs/${first.body.id}`);
  const other = await acme.api(
    'POST',
    '/v1/jobs',
    { ...body, input: { n: 2 } },
    { 'idempotency-key': 'order-1' },
  );
  t.equal(other.status, 409);
  const { rows } = await app.ctx.pool.query('select count(*)::int as n from jobs where input = \'{"n":1}\'');
  t.equal(rows[0].n, 1, 'one job for the key');

  const other_tenant = await app.tenant('other');
  const theirs = await other_tenant.api('POST', '/v1/jobs', body, { 'idempotency-key': 'order-1' });
  t.equal(theirs.status, 202, 'keys are per tenant');
  t.not(theirs.body.id, first.body.id);

  for (const key of ['', 'x'.repeat(256), 'has space']) {
    t.equal(
      (await acme.api('POST', '/v1/jobs', body, { 'idempotency-key': key })).status,
      400,
      `key "${key.slice(0, 10)}"`,
    );
  }
});

t.test('an Idempotency-Key is remembered for 24 hours, then may be used again', async (t) => {
  const first = await acme.api(
    'POST',
    '/v1/jobs',
    { type: 'echo', input: 'old' },
    { 'idempotency-key': 'daily' },
  );
  t.equal(first.status, 202);
  await app.ctx.pool.query(
    "update idempotency_keys set created_at = now() - interval '25 hours' where key = 'daily'",
  );
  const reused = await acme.api(
    'POST',
    '/v1/jobs',
    { type: 'echo', input: 'new' },
    { 'idempotency-key': 'daily' },
  );
  t.equal(reused.status, 202, 'an expired key with another body creates a new job, not a 409');
  t.not(reused.body.id, first.body.id);
  const again = await acme.api(
    'POST',
    '/v1/jobs',
    { type: 'echo', input: 'new' },
    { 'idempotency-key': 'daily' },
  );
  t.equal(again.status, 200);
  t.equal(again.body.id, reused.body.id, 'the key now names the new job');
});

t.test('concurrent requests with one Idempotency-Key create one job', async (t) => {
  const body = { type: 'echo', input: { race: true } };
  const responses = await Promise.all(
    Array.from({ length: 8 }, () => acme.api('POST', '/v1/jobs', body, { 'idempotency-key': 'race-1' })),
  );
  const ids = new Set(responses.map((r) => r.body.id));
  t.equal(ids.size, 1, 'every response names the same job');
  t.same(responses.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 200, 202]);
  const { rows } = await app.ctx.pool.query(
    'select count(*)::int as n from jobs where input = \'{"race":true}\'',
  );
  t.equal(rows[0].n, 1);
  const keys = await app.ctx.pool.query('select count(*)::int as n from idempotency_keys where key = $1', [
    'race-1',
  ]);
  t.equal(keys.rows[0].n, 1, 'and one key: the losers rolled theirs back');
});

t.test('list: newest first, filters, cursor; other tenants never appear', async (t) => {
  const lister = await app.tenant('lister');
  const ids: string[] = [];
  for (const type of ['echo', 'demo.report', 'echo']) {
    ids.push((await lister.api('POST', '/v1/jobs', { type, input: {} })).body.id as string);
  }
  await (await app.tenant('noise')).api('POST', '/v1/jobs', { type: 'echo', input: {} });
  const all = await lister.api<{ data: Array<{ id: string }>; nextCursor: string | null }>('GET', '/v1/jobs');
  t.same(
    all.body.data.map((j) => j.id),
    [...ids].reverse(),
  );
  const echoes = await lister.api<{ data: Array<{ id: string }> }>('GET', '/v1/jobs?type=echo');
  t.same(
    echoes.body.data.map((j) => j.id),
    [ids[2], ids[0]],
  );
  const page = await lister.api<{ data: Array<{ id: string }>; nextCursor: string }>(
    'GET',
    '/v1/jobs?limit=2',
  );
  const rest = await lister.api<{ data: Array<{ id: string }>; nextCursor: string | null }>(
    'GET',
    `/v1/jobs?limit=2&cursor=${page.body.nextCursor}`,
  );
  t.same(
    rest.body.data.map((j) => j.id),
    [ids[0]],
  );
  t.equal(rest.body.nextCursor, null);
  t.equal((await lister.api('GET', '/v1/jobs?status=running')).body.data?.toString(), '');
  t.equal((await lister.api('GET', '/v1/jobs?status=bogus')).status, 400);
});

t.test("another tenant's job is 404 on every route", async (t) => {
  const owner = await app.tenant('owner');
  const intruder = await app.tenant('intruder');
  const created = await owner.api('POST', '/v1/jobs', { type: 'echo', input: { secret: 1 }, runAt: LATER });
  t.equal(created.status, 202);
  const id = created.body.id as string;
  t.match(id, /^job_/);
  for (const [method, path] of [
    ['GET', `/v1/jobs/${id}`],
    ['GET', `/v1/jobs/${id}?waitSeconds=1`],
    ['GET', `/v1/jobs/${id}/result`],
    ['GET', `/v1/jobs/${id}/events`],
    ['POST', `/v1/jobs/${id}/cancel`],
    ['DELETE', `/v1/jobs/${id}`],
  ] as const) {
    const response = await intruder.api(method, path);
    t.equal(response.status, 404, `${method} ${path}`);
    t.notOk(JSON.stringify(response.body).includes('secret'));
  }
  t.equal((await owner.api('GET', `/v1/jobs/${id}`)).body.status, 'queued', 'untouched by the probes');
});

t.test('operator keys and missing keys cannot use tenant routes', async (t) => {
  t.equal((await app.admin('GET', '/v1/jobs')).status, 403);
  t.equal((await client(app.base)('GET', '/v1/jobs')).status, 401);
  t.equal((await acme.api('GET', '/v1/admin/tenants')).status, 403);
});

t.test('a tenant over its queued-jobs cap gets 429 with Retry-After; others are unaffected', async (t) => {
  const capped = await jobsApp(t, { TENANT_MAX_QUEUED_JOBS: '2' }, { workers: false });
  const busy = await capped.tenant('busy');
  const later = { type: 'echo', input: {}, runAt: LATER };
  t.equal((await busy.api('POST', '/v1/jobs', later)).status, 202);
  t.equal((await busy.api('POST', '/v1/jobs', later)).status, 202);
  const refused = await busy.api('POST', '/v1/jobs', later);
  t.equal(refused.status, 429);
  t.equal(refused.headers.get('retry-after'), '5');
  t.match(refused.headers.get('content-type'), /problem\+json/);
  t.equal((await (await capped.tenant('calm')).api('POST', '/v1/jobs', later)).status, 202);
});

t.test('the per-tenant rate limit answers 429 problem+json with Retry-After', async (t) => {
  const limited = await jobsApp(t, { TENANT_RATE_LIMIT: '5' }, { workers: false });
  const chatty = await limited.tenant('chatty');
  const statuses = await Promise.all(Array.from({ length: 12 }, () => chatty.api('GET', '/v1/jobs')));
  const refused = statuses.filter((r) => r.status === 429);
  t.ok(refused.length >= 6, `${refused.length} of 12 refused`);
  t.match(refused[0]?.headers.get('content-type'), /problem\+json/);
  t.ok(Number(refused[0]?.headers.get('retry-after')) >= 1);
  const quiet = await limited.tenant('quiet');
  t.equal((await quiet.api('GET', '/v1/jobs')).status, 200, 'the limit is per tenant');
});
