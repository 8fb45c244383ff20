// Operator routes for tenants and keys, and how keys authenticate.
import t from 'tap';
import { buildApp } from '../../src/http/app.ts';
import { client } from '../helpers/client.ts';
import { listen, testContext } from '../helpers/context.ts';

const ADMIN = 'admin-key-for-tests-0123456789';
const ctx = await testContext(t, { ADMIN_API_KEY: ADMIN });
const base = await listen(t, await buildApp(ctx));
const admin = client(base, ADMIN);

interface Created {
  id: string;
  name: string;
  apiKey: string;
  signingSecret: string;
  createdAt: string;
}

t.test('create a tenant: key and signing secret shown once, key stored only as a hash', async (t) => {
  const created = await admin<Created>('POST', '/v1/admin/tenants', { name: 'Acme' });
  t.equal(created.status, 201);
  t.match(created.body.id, /^ten_[0-9A-Z]{26}$/);
  t.equal(created.body.name, 'Acme');
  t.match(created.body.apiKey, /^hr_[\w-]{43}$/);
  t.match(created.body.signingSecret, /^whsec_[A-Za-z0-9+/]+=*$/);
  const secretBytes = Buffer.from(created.body.signingSecret.slice('whsec_'.length), 'base64').length;
  t.ok(secretBytes >= 24 && secretBytes <= 64, `secret has ${secretBytes} random bytes`);

  const stored = await ctx.pool.query('select key_hash from api_keys where tenant_id = $1', [
    created.body.id,
  ]);
  t.equal(stored.rowCount, 1);
  const dump = JSON.stringify((await ctx.pool.query('select * from api_keys')).rows);
  t.notOk(dump.includes(created.body.apiKey), 'the key itself is nowhere in the table');

  const read = await admin('GET', `/v1/admin/tenants/${created.body.id}`);
  t.equal(read.status, 200);
  t.same(
    read.body,
    { id: created.body.id, name: 'Acme', createdAt: created.body.createdAt },
    'no secrets on read',
  );
});

t.test('tenant names are validated', async (t) => {
  for (const body of [{}, { name: '' }, { name: '   ' }, { name: 'x'.repeat(201) }, { name: 7 }]) {
    const response = await admin('POST', '/v1/admin/tenants', body);
    t.equal(response.status, 400, JSON.stringify(body));
    t.equal((response.body.errors as Array<{ path: string }>)[0]?.path, 'body.name');
  }
});

t.test('list tenants newest first with a cursor', async (t) => {
  for (const name of ['p1', 'p2', 'p3']) await admin('POST', '/v1/admin/tenants', { name });
  const first = await admin<{ data: Created[]; nextCursor: string | null }>(
    'GET',
    '/v1/admin/tenants?limit=2',
  );
  t.equal(first.status, 200);
  t.same(
    first.body.data.map((tenant) => tenant.name),
    ['p3', 'p2'],
  );
  t.type(first.body.nextCursor, 'string');
  const second = await admin<{ data: Created[]; nextCursor: string | null }>(
    'GET',
    `/v1/admin/tenants?limit=2&cursor=${first.body.nextCursor}`,
  );
  t.equal(second.body.data[0]?.name, 'p1');
  const all = await admin<{ data: Created[]; nextCursor: string | null }>(
    'GET',
    '/v1/admin/tenants?limit=100',
  );
  t.equal(all.body.nextCursor, null, 'the last page has no cursor');
  for (const query of ['limit=0', 'limit=101', 'limit=abc', `cursor=${'x'.repeat(65)}`]) {
    t.equal((await admin('GET', `/v1/admin/tenants?${query}`)).status, 400, query);
  }
});

t.test('keys: issue another, revoke one, the other keeps working', async (t) => {
  const tenant = (await admin<Created>('POST', '/v1/admin/tenants', { name: 'Keys' })).body;
  const second = await admin<{ id: string; apiKey: string }>('POST', `/v1/admin/tenants/${tenant.id}/keys`);
  t.equal(second.status, 201);
  t.match(second.body.id, /^key_/);
  t.not(second.body.apiKey, tenant.apiKey);

  // A tenant key authenticates but has no operator role.
  t.equal((await client(base, second.body.apiKey)('GET', '/v1/admin/tenants')).status, 403);

  t.equal((await admin('DELETE', `/v1/admin/tenants/${tenant.id}/keys/${second.body.id}`)).status, 204);
  t.equal(
    (await client(base, second.body.apiKey)('GET', '/v1/admin/tenants')).status,
    401,
    'revoked key is unknown',
  );
  t.equal(
    (await client(base, tenant.apiKey)('GET', '/v1/admin/tenants')).status,
    403,
    'the first key still works',
  );
  t.equal(
    (await admin('DELETE', `/v1/admin/tenants/${tenant.id}/keys/${second.body.id}`)).status,
    404,
    'twice → 404',
  );

  const other = (await admin<Created>('POST', '/v1/admin/tenants', { name: 'Other' })).body;
  const otherKeyId = (await ctx.pool.query('select id from api_keys where tenant_id = $1', [other.id]))
    .rows[0].id;
  t.equal(
    (await admin('DELETE', `/v1/admin/tenants/${tenant.id}/keys/${otherKeyId}`)).status,
    404,
    "a key is revoked only through its own tenant's path",
  );
});

t.test('unknown tenants answer 404; strings that are not tenant ids, 400', async (t) => {
  const unknown = '/v1/admin/tenants/ten_01ARZ3NDEKTSV4RRFFQ69G5FAV';
  t.equal((await admin('GET', unknown)).status, 404, unknown);
  t.equal((await admin('POST', `${unknown}/keys`)).status, 404, `${unknown}/keys`);
  for (const path of ['/v1/admin/tenants/nope', '/v1/admin/tenants/job_01ARZ3NDEKTSV4RRFFQ69G5FAV']) {
    t.equal((await admin('GET', path)).status, 400, path);
    t.equal((await admin('POST', `${path}/keys`)).status, 400, `${path}/keys`);
  }
});

t.test('authentication', async (t) => {
  const anonymous = await client(base)('GET', '/v1/admin/tenants');
  t.equal(anonymous.status, 401);
  t.equal(anonymous.headers.get('www-authenticate'), 'Bearer');
  t.match(anonymous.headers.get('content-type'), /problem\+json/);
  for (const header of [
    'Basic abc',
    'Bearer',
    'Bearer ',
    `Bearer ${'x'.repeat(300)}`,
    'Bearer a b',
    'bearer-ish',
  ]) {
    const response = await client(base)('GET', '/v1/admin/tenants', undefined, { authorization: header });
    t.equal(response.status, 401, header);
  }
  t.equal(
    (await client(base, `${ADMIN}x`)('GET', '/v1/admin/tenants')).status,
    401,
    'near miss of the operator key',
  );
  t.equal((await client(base, 'hr_unknown')('GET', '/v1/admin/tenants')).status, 401);
});
