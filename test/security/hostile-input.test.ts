// The hostile-input catalogue: every route gets malformed, oversized, mistyped, injected and abusive input.
// Each must be answered with the documented 4xx as problem+json, never a 5xx, and the service process (the
// real `hookrelay serve`, on a real database) must still be up and serving at the end.

import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { client } from '../helpers/client.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY } from '../helpers/jobs-app.ts';
import { runHookrelay } from '../helpers/process.ts';
import { upstream } from '../helpers/upstream.ts';

interface Raw {
  status: number;
  contentType: string;
  body: string;
}

/** node:http, not fetch: the path goes out exactly as written (no URL normalising) and any header is allowed. */
function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string | Buffer,
): Promise<Raw> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const request = http.request({ hostname, port, method, path, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          contentType: String(response.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    request.on('error', reject);
    request.end(body);
  });
}

type Who = 'tenant' | 'other' | 'admin' | 'none';

interface Case {
  name: string;
  method: string;
  path: string;
  status: number;
  who?: Who;
  /** JSON-encoded unless a string (sent as written). */
  body?: unknown;
  headers?: Record<string, string>;
  /** The field errors the problem must list (paths). */
  errors?: string[];
}

const receiver = await upstream(t, (request) =>
  request.url === '/gone' ? { status: 410 } : { status: 200, body: 'ok' },
);
const service = runHookrelay(t, {
  DATABASE_URL: await freshDatabase(t),
  ADMIN_API_KEY: ADMIN_KEY,
  // Only the receiver's own address: every other private form must still be refused.
  OUTBOUND_ALLOW_CIDRS: '127.0.0.1/32',
  DELIVERY_RETRY_SCHEDULE: '100ms',
  // Task types' inputs are judged by their own schemas: test/fixtures/tasks.
  HOOKRELAY_TASKS_DIR: path.resolve(import.meta.dirname, '..', 'fixtures', 'tasks'),
});
const base = await service.ready();
t.test('every hostile input gets its 4xx problem+json', async (t) => {
  const admin = client(base, ADMIN_KEY);
  const tenant = (await admin<{ id: string; apiKey: string }>('POST', '/v1/admin/tenants', { name: 'a' }))
    .body;
  const other = (await admin<{ apiKey: string }>('POST', '/v1/admin/tenants', { name: 'b' })).body;
  const api = client(base, tenant.apiKey);

  // Real objects, so that ids in the catalogue exist and the refusals are about the input, not the id.
  const endpoint = (await api<{ id: string }>('POST', '/v1/endpoints', { url: `${receiver.url}/ok` })).body;
  const gone = (await api<{ id: string }>('POST', '/v1/endpoints', { url: `${receiver.url}/gone` })).body;
  const job = (await api<{ id: string }>('POST', '/v1/jobs', { type: 'echo', input: 1, endpointId: gone.id }))
    .body;
  const finished = (await api<{ status: string }>('GET', `/v1/jobs/${job.id}?waitSeconds=30`)).body;
  t.equal(finished.status, 'succeeded', 'the fixture job ran');
  const { id: deadLetterId, messageId } = await waitFor(
    'the fixture job’s dead letter',
    async () =>
      (await api<{ data: Array<{ id: string; messageId: string }> }>('GET', '/v1/dead-letters')).body.data[0],
  );
  t.ok(deadLetterId, 'the fixture dead letter exists');
  const later = new Date(Date.now() + 3_600_000).toISOString();
  const scheduled = (await api<{ id: string }>('POST', '/v1/jobs', { type: 'echo', input: 1, runAt: later }))
    .body;
  t.equal((await api('POST', `/v1/jobs/${scheduled.id}/cancel`)).status, 200, 'a cancelled fixture job');
  await api('POST', '/v1/jobs', { type: 'echo', input: 1 }, { 'idempotency-key': 'fixture-key' });

  // A remote type with a schema, and a claimed attempt's task token, for the worker routes.
  await api('PUT', '/v1/job-types/remote.fx', {
    execution: 'remote',
    inputSchema: { type: 'object', properties: { year: { type: 'integer' } }, required: ['year'] },
  });
  await api('POST', '/v1/jobs', { type: 'remote.fx', input: { year: 2026 } });
  const claimed = await api<{ data: Array<{ taskToken: string }> }>('POST', '/v1/worker/claim', {
    types: ['remote.fx'],
    waitSeconds: 5,
  });
  const T = `/v1/tasks/${claimed.body.data[0]?.taskToken}`;
  t.ok(claimed.body.data[0], 'a claimed fixture task');

  const echo = (extra: Record<string, unknown>) => ({ type: 'echo', input: { n: 1 }, ...extra });
  const nested = (depth: number) => `{"type":"echo","input":${'['.repeat(depth)}${']'.repeat(depth)}}`;
  const J = `/v1/jobs/${job.id}`;
  const E = `/v1/endpoints/${endpoint.id}`;

  const lateGaps = [
    // IPv4-compatible IPv6 (::/96), an embedded-IPv4 form like ::ffff:0:0/96.
    'http://[::127.0.0.1]/',
    'http://[::a9fe:a9fe]/',
    'http://[::10.0.0.1]:3320/',
    // Metadata services by name, refused whether or not the name resolves here.
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://metadata/',
    'http://instance-data/latest/meta-data/',
    'http://instance-data.ec2.internal/',
    'http://metadata.goog/',
    'http://METADATA.GOOGLE.INTERNAL./',
  ];
  const catalogue: Case[] = [
    // A task type's input, against the task's own schema.
    {
      name: 'task input of the wrong types',
      method: 'POST',
      path: '/v1/jobs',
      body: { type: 'fixture.steps', input: { steps: 'many', stepMs: -1 } },
      status: 400,
      errors: ['body.input.steps', 'body.input.stepMs'],
    },
    {
      name: 'task input out of range',
      method: 'POST',
      path: '/v1/jobs',
      body: { type: 'fixture.steps', input: { steps: 1e9, stepMs: 1.5 } },
      status: 400,
      errors: ['body.input.steps', 'body.input.stepMs'],
    },
    {
      name: 'task input that is not an object',
      method: 'POST',
      path: '/v1/jobs',
      body: { type: 'fixture.outcomes', input: [1, 2, 3] },
      status: 400,
      errors: ['body.input'],
    },
    {
      name: 'task input null',
      method: 'POST',
      path: '/v1/jobs',
      body: { type: 'fixture.steps', input: null },
      status: 400,
      errors: ['body.input'],
    },
    {
      name: 'task input with a prototype-polluting key',
      method: 'POST',
      path: '/v1/jobs',
      body: '{"type":"fixture.outcomes","input":{"__proto__":{"permanent":"yes"},"permanent":"no"}}',
      status: 400,
    },
    // Malformed JSON and wrong JSON shapes.
    {
      name: 'truncated JSON',
      method: 'POST',
      path: '/v1/jobs',
      body: '{"type": "echo", "input":',
      status: 400,
    },
    { name: 'not JSON at all', method: 'POST', path: '/v1/jobs', body: 'type=echo&input=1', status: 400 },
    { name: 'empty JSON body', method: 'POST', path: '/v1/jobs', body: '', status: 400 },
    { name: 'a JSON array', method: 'POST', path: '/v1/jobs', body: [], status: 400 },
    { name: 'JSON null', method: 'POST', path: '/v1/jobs', body: 'null', status: 400 },
    { name: 'a JSON string', method: 'POST', path: '/v1/jobs', body: '"echo"', status: 400 },
    {
      name: 'trailing garbage',
      method: 'POST',
      path: '/v1/jobs',
      body: '{"type":"echo","input":1}{}',
      status: 400,
    },
    {
      name: 'a raw NUL byte',
      method: 'POST',
      path: '/v1/jobs',
      body: '{"type":"echo","input":"a\u0000b"}',
      status: 400,
    },
    {
      name: '__proto__ poisoning',
      method: 'POST',
      path: '/v1/jobs',
      body: '{"type":"echo","input":1,"__proto__":{"admin":true}}',
      status: 400,
    },
    {
      name: 'constructor.prototype poisoning',
      method: 'POST',
      path: '/v1/jobs',
      body: '{"type":"echo","input":{"constructor":{"prototype":{"admin":true}}}}',
      status: 400,
    },
    // Wrong types and out-of-range values.
    { name: 'type is a number', method: 'POST', path: '/v1/jobs', body: { type: 1, input: 1 }, status: 400 },
    { name: 'type missing', method: 'POST', path: '/v1/jobs', body: { input: 1 }, status: 400 },
    { name: 'input missing', method: 'POST', path: '/v1/jobs', body: { type: 'echo' }, status: 400 },
    {
      name: 'timeoutSeconds a string',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({ timeoutSeconds: '10' }),
      status: 400,
    },
    {
      name: 'timeoutSeconds negative',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({ timeoutSeconds: -1 }),
      status: 400,
    },
    {
      name: 'a number past double range',
      method: 'POST',
      path: '/v1/jobs',
      body: '{"type":"echo","input":1,"timeoutSeconds":1e400}',
      status: 400,
    },
    {
      name: 'maxAttempts fractional',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({ maxAttempts: 1.5 }),
      status: 400,
    },
    {
      name: 'maxAttempts huge',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({ maxAttempts: 2 ** 53 }),
      status: 400,
    },
    {
      name: 'priority an object',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({ priority: {} }),
      status: 400,
    },
    {
      name: 'runAt not a date',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({ runAt: 'tomorrow' }),
      status: 400,
    },
    {
      name: 'runAt impossible date',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({ runAt: '2026-02-30T00:00:00Z' }),
      status: 400,
    },
    {
      name: 'metadata a string',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({ metadata: 'x' }),
      status: 400,
    },
    {
      name: 'unknown job type',
      method: 'POST',
      path: '/v1/jobs',
      body: { type: 'rm -rf', input: 1 },
      status: 422,
    },
    {
      name: 'http job input of the wrong shape',
      method: 'POST',
      path: '/v1/jobs',
      body: { type: 'http', input: { url: 5 } },
      status: 400,
    },
    {
      name: 'both callbackUrl and endpointId',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({ callbackUrl: `${receiver.url}/x`, endpointId: endpoint.id }),
      status: 400,
    },
    {
      name: 'endpointId of nothing',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({ endpointId: 'ep_00000000000000000000000000' }),
      status: 422,
    },
    // Huge, deep, and odd text.
    {
      name: 'body over 1 MiB',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({ input: 'x'.repeat(1_100_000) }),
      status: 413,
    },
    { name: 'nesting 5,000 deep', method: 'POST', path: '/v1/jobs', body: nested(5_000), status: 400 },
    { name: 'nesting 200,000 deep', method: 'POST', path: '/v1/jobs', body: nested(200_000), status: 400 },
    {
      name: 'escaped NUL in input',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({ input: 'a\u0000b' }),
      status: 400,
    },
    {
      name: 'escaped NUL in a key',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({ input: { 'a\u0000': 1 } }),
      status: 400,
    },
    {
      name: 'lone surrogate in input',
      method: 'POST',
      path: '/v1/jobs',
      body: '{"type":"echo","input":"\\ud800"}',
      status: 400,
    },
    {
      name: 'NUL in the job type',
      method: 'POST',
      path: '/v1/jobs',
      body: { type: 'echo\u0000', input: 1 },
      status: 400,
    },
    {
      name: 'NUL in a tenant name',
      method: 'POST',
      path: '/v1/admin/tenants',
      who: 'admin',
      body: { name: 'a\u0000' },
      status: 400,
    },
    {
      name: 'invalid UTF-8 bytes',
      method: 'POST',
      path: '/v1/jobs',
      body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      status: 400,
    },
    // Media types and headers.
    {
      name: 'text/plain',
      method: 'POST',
      path: '/v1/jobs',
      body: 'hello',
      headers: { 'content-type': 'text/plain' },
      status: 415,
    },
    {
      name: 'form encoding',
      method: 'POST',
      path: '/v1/jobs',
      body: 'type=echo',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      status: 415,
    },
    {
      name: 'XML',
      method: 'POST',
      path: '/v1/endpoints',
      body: '<url/>',
      headers: { 'content-type': 'application/xml' },
      status: 415,
    },
    {
      name: 'headers over 16 KiB',
      method: 'GET',
      path: '/v1/jobs',
      headers: { 'x-filler': 'x'.repeat(20_000) },
      status: 431,
    },
    { name: 'a 20 KiB path', method: 'GET', path: `/v1/jobs/${'a'.repeat(20_000)}`, status: 431 },
    { name: 'no API key', method: 'GET', path: '/v1/jobs', who: 'none', status: 401 },
    {
      name: 'Basic instead of Bearer',
      method: 'GET',
      path: '/v1/jobs',
      who: 'none',
      headers: { authorization: 'Basic YTpi' },
      status: 401,
    },
    {
      name: 'an overlong bearer key',
      method: 'GET',
      path: '/v1/jobs',
      who: 'none',
      headers: { authorization: `Bearer ${'k'.repeat(5_000)}` },
      status: 401,
    },
    {
      name: "a bearer key with ' OR 1=1",
      method: 'GET',
      path: '/v1/jobs',
      who: 'none',
      headers: { authorization: "Bearer x'OR'1'='1" },
      status: 401,
    },
    { name: 'a tenant key on an operator route', method: 'GET', path: '/v1/admin/tenants', status: 403 },
    {
      name: 'the operator key on a tenant route',
      method: 'GET',
      path: '/v1/jobs',
      who: 'admin',
      status: 403,
    },
    // Idempotency misuse.
    {
      name: 'Idempotency-Key reused with another body',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({ input: 2 }),
      headers: { 'idempotency-key': 'fixture-key' },
      status: 409,
    },
    {
      name: 'Idempotency-Key too long',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({}),
      headers: { 'idempotency-key': 'k'.repeat(300) },
      status: 400,
    },
    {
      name: 'Idempotency-Key empty',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({}),
      headers: { 'idempotency-key': '' },
      status: 400,
    },
    {
      name: 'Idempotency-Key with spaces',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({}),
      headers: { 'idempotency-key': 'a b' },
      status: 400,
    },
    // Ids and filters carrying injection, NUL and traversal.
    {
      name: 'SQL in a job id',
      method: 'GET',
      path: `/v1/jobs/${encodeURIComponent("' OR '1'='1")}`,
      status: 400,
    },
    { name: 'NUL in a job id', method: 'GET', path: '/v1/jobs/job_%00', status: 400 },
    { name: 'invalid UTF-8 in a job id', method: 'GET', path: '/v1/jobs/job_%ff%fe', status: 400 },
    { name: 'traversal in an id', method: 'GET', path: '/v1/jobs/..%2f..%2fadmin%2ftenants', status: 400 },
    {
      name: 'SQL in an endpoint id',
      method: 'PATCH',
      path: `/v1/endpoints/${encodeURIComponent('ep_1;drop table endpoints')}`,
      body: {},
      status: 400,
    },
    { name: 'NUL in a message id', method: 'GET', path: '/v1/messages/msg_%00', status: 400 },
    {
      name: 'SQL in a dead-letter id',
      method: 'POST',
      path: `/v1/dead-letters/${encodeURIComponent("dl_' or 1=1--")}/replay`,
      status: 400,
    },
    {
      name: 'NUL in a tenant id',
      method: 'GET',
      path: '/v1/admin/tenants/ten_%00',
      who: 'admin',
      status: 400,
    },
    {
      name: 'SQL in a key id',
      method: 'DELETE',
      path: `/v1/admin/tenants/${tenant.id}/keys/${encodeURIComponent("key_'--")}`,
      who: 'admin',
      status: 400,
    },
    {
      name: 'SQL in a status filter',
      method: 'GET',
      path: `/v1/jobs?status=${encodeURIComponent("queued' --")}`,
      status: 400,
    },
    { name: 'NUL in a type filter', method: 'GET', path: '/v1/jobs?type=echo%00', status: 400 },
    {
      name: 'SQL in a jobId filter',
      method: 'GET',
      path: `/v1/messages?jobId=${encodeURIComponent('1;delete from jobs')}`,
      status: 400,
    },
    { name: 'unknown message status', method: 'GET', path: '/v1/messages?status=lost', status: 400 },
    {
      name: 'NUL in an endpointId filter',
      method: 'GET',
      path: '/v1/dead-letters?endpointId=ep_%00',
      status: 400,
    },
    { name: 'since not a date', method: 'GET', path: '/v1/dead-letters?since=yesterday', status: 400 },
    {
      name: 'since an impossible date',
      method: 'GET',
      path: '/v1/dead-letters?since=2026-13-45T00:00:00Z',
      status: 400,
    },
    {
      name: 'admin dead letters with SQL in a filter',
      method: 'GET',
      path: `/v1/admin/dead-letters?endpointId=${encodeURIComponent("' or ''='")}`,
      who: 'admin',
      status: 400,
    },
    {
      name: 'SQL in a dead-letter reason filter',
      method: 'GET',
      path: `/v1/dead-letters?reason=${encodeURIComponent("gone' or 1=1--")}`,
      status: 400,
    },
    {
      name: 'replayed neither true nor false',
      method: 'GET',
      path: '/v1/dead-letters?replayed=1',
      status: 400,
    },
    { name: 'stats window unknown', method: 'GET', path: `${E}/stats?window=100y`, status: 400 },
    { name: 'stats window with NUL', method: 'GET', path: `${E}/stats?window=1h%00`, status: 400 },
    {
      name: 'stats of a malformed endpoint id',
      method: 'GET',
      path: '/v1/endpoints/ep_..%2f..%2f/stats',
      status: 400,
    },
    { name: 'console path with NUL', method: 'GET', path: '/console/js/main.js%00.html', status: 403 },
    {
      name: 'console path escaping its folder',
      method: 'GET',
      path: '/console/..%2f..%2fpackage.json',
      status: 404,
    },
    // Pagination abuse.
    { name: 'limit 0', method: 'GET', path: '/v1/jobs?limit=0', status: 400 },
    { name: 'limit 101', method: 'GET', path: '/v1/messages?limit=101', status: 400 },
    { name: 'limit negative', method: 'GET', path: '/v1/endpoints?limit=-5', status: 400 },
    { name: 'limit not a number', method: 'GET', path: '/v1/dead-letters?limit=ten', status: 400 },
    { name: 'limit given twice', method: 'GET', path: '/v1/jobs?limit=1&limit=2', status: 400 },
    {
      name: 'limit in exponent form',
      method: 'GET',
      path: '/v1/admin/tenants?limit=1e9',
      who: 'admin',
      status: 400,
    },
    {
      name: 'cursor with SQL',
      method: 'GET',
      path: `/v1/jobs?cursor=${encodeURIComponent("job_' or 1=1--")}`,
      status: 400,
    },
    { name: 'cursor with NUL', method: 'GET', path: '/v1/messages?cursor=msg_%00', status: 400 },
    { name: 'waitSeconds over 60', method: 'GET', path: `${J}?waitSeconds=61`, status: 400 },
    { name: 'waitSeconds negative', method: 'GET', path: `${J}?waitSeconds=-1`, status: 400 },
    // Every refused URL form, for callbacks, endpoints and the http job.
    ...[
      'http://10.0.0.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[fd00:ec2::254]/',
      'http://0.0.0.0/',
      'http://127.0.0.2/',
      'http://[::1]/',
      'http://[::ffff:10.0.0.1]/',
      'http://167772161/',
      'http://0x0a000001/',
      'http://012.0.0.1/',
      'http://192.168.1.1:8080/',
      'http://[fe80::1]/',
      'http://100.64.0.1/',
      ...lateGaps,
    ].map((url) => ({
      name: `callback ${url}`,
      method: 'POST',
      path: '/v1/jobs',
      body: echo({ callbackUrl: url }),
      status: 422,
    })),
    ...lateGaps.flatMap((url): Case[] => [
      { name: `endpoint ${url}`, method: 'POST', path: '/v1/endpoints', body: { url }, status: 422 },
      {
        name: `http job to ${url}`,
        method: 'POST',
        path: '/v1/jobs',
        body: { type: 'http', input: { url } },
        status: 422,
      },
    ]),
    {
      name: 'endpoint on a private address',
      method: 'POST',
      path: '/v1/endpoints',
      body: { url: 'http://172.16.0.1/hook' },
      status: 422,
    },
    {
      name: 'http job to the metadata service',
      method: 'POST',
      path: '/v1/jobs',
      body: { type: 'http', input: { url: 'http://169.254.169.254/' } },
      status: 422,
    },
    {
      name: 'a file: URL',
      method: 'POST',
      path: '/v1/endpoints',
      body: { url: 'file:///etc/passwd' },
      status: 400,
    },
    {
      name: 'a javascript: URL',
      method: 'POST',
      path: '/v1/jobs',
      body: echo({ callbackUrl: 'javascript:alert(1)' }),
      status: 400,
    },
    {
      name: 'a gopher: URL',
      method: 'PATCH',
      path: E,
      body: { url: 'gopher://127.0.0.1:6379/_FLUSHALL' },
      status: 400,
    },
    { name: 'not a URL', method: 'POST', path: '/v1/endpoints', body: { url: 'not a url' }, status: 400 },
    // Header injection through endpoint headers.
    {
      name: 'CRLF in a header value',
      method: 'POST',
      path: '/v1/endpoints',
      body: { url: `${receiver.url}/x`, headers: { 'x-a': 'b\r\nHost: evil' } },
      status: 400,
    },
    ...[
      ['a vertical tab', 'a\vb'],
      ['a form feed', 'a\fb'],
      ['DEL', 'a\u007fb'],
      ['U+2028', 'a\u2028b'],
      ['NUL', 'a\u0000b'],
    ].map(([what, value]) => ({
      name: `${what} in an endpoint header value`,
      method: 'POST',
      path: '/v1/endpoints',
      body: { url: `${receiver.url}/x`, headers: { 'x-a': value } },
      status: 400,
    })),
    {
      name: 'Expect as an endpoint header',
      method: 'PATCH',
      path: E,
      body: { headers: { Expect: '100-continue' } },
      status: 400,
    },
    {
      name: 'Expect as an http job header',
      method: 'POST',
      path: '/v1/jobs',
      body: { type: 'http', input: { url: `${receiver.url}/x`, headers: { expect: '100-continue' } } },
      status: 400,
    },
    {
      name: 'a form feed in an http job header',
      method: 'POST',
      path: '/v1/jobs',
      body: { type: 'http', input: { url: `${receiver.url}/x`, headers: { 'x-a': 'a\fb' } } },
      status: 400,
    },
    {
      name: 'a space in a header name',
      method: 'PATCH',
      path: E,
      body: { headers: { 'x a': 'b' } },
      status: 400,
    },
    {
      name: 'overriding Host',
      method: 'POST',
      path: '/v1/endpoints',
      body: { url: `${receiver.url}/x`, headers: { Host: 'evil' } },
      status: 400,
    },
    {
      name: 'overriding webhook-signature',
      method: 'PATCH',
      path: E,
      body: { headers: { 'Webhook-Signature': 'v1,forged' } },
      status: 400,
    },
    {
      name: 'Transfer-Encoding',
      method: 'PATCH',
      path: E,
      body: { headers: { 'transfer-encoding': 'chunked' } },
      status: 400,
    },
    {
      name: '21 headers',
      method: 'PATCH',
      path: E,
      body: { headers: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`x-${i}`, 'v'])) },
      status: 400,
    },
    {
      name: 'rateLimitPerSecond zero',
      method: 'PATCH',
      path: E,
      body: { rateLimitPerSecond: 0 },
      status: 400,
    },
    {
      name: 'unknown event type',
      method: 'POST',
      path: '/v1/endpoints',
      body: { url: `${receiver.url}/x`, eventTypes: ['job.everything'] },
      status: 400,
    },
    // State conflicts and bulk requests.
    { name: 'cancel a finished job', method: 'POST', path: `${J}/cancel`, status: 409 },
    { name: 'DELETE a finished job', method: 'DELETE', path: J, status: 409 },
    {
      name: 'result of a cancelled job',
      method: 'GET',
      path: `/v1/jobs/${scheduled.id}/result`,
      status: 409,
    },
    {
      name: 'bulk replay with a bad since',
      method: 'POST',
      path: '/v1/dead-letters/replay',
      body: { since: 'x' },
      status: 400,
    },
    {
      name: 'bulk replay with a numeric endpointId',
      method: 'POST',
      path: '/v1/dead-letters/replay',
      body: { endpointId: 1 },
      status: 400,
    },
    {
      name: 'bulk replay with a limit of 0',
      method: 'POST',
      path: '/v1/dead-letters/replay',
      body: { limit: 0 },
      status: 400,
    },
    {
      name: 'bulk replay with a huge limit',
      method: 'POST',
      path: '/v1/dead-letters/replay',
      body: { limit: 1e12 },
      status: 400,
    },
    {
      name: 'bulk replay with dryRun as a string',
      method: 'POST',
      path: '/v1/dead-letters/replay',
      body: { dryRun: 'true' },
      status: 400,
    },
    {
      name: 'bulk replay with an unknown reason',
      method: 'POST',
      path: '/v1/dead-letters/replay',
      body: { reason: 'lost' },
      status: 400,
    },
    {
      name: 'bulk replay with since after until',
      method: 'POST',
      path: '/v1/dead-letters/replay',
      body: { since: later, until: new Date(0).toISOString() },
      status: 400,
    },
    {
      name: 'tenant name too long',
      method: 'POST',
      path: '/v1/admin/tenants',
      who: 'admin',
      body: { name: 'n'.repeat(10_000) },
      status: 400,
    },
    { name: 'unknown route', method: 'PUT', path: '/v1/jobs', status: 404 },
    // Job types, claims and task reports (issue 20).
    { name: 'job type: an array body', method: 'PUT', path: '/v1/job-types/x.y', body: [], status: 400 },
    {
      name: 'job type: unknown execution',
      method: 'PUT',
      path: '/v1/job-types/x.y',
      body: { execution: 'inline' },
      status: 400,
      errors: ['body.execution'],
    },
    {
      name: 'job type: a schema that is no JSON Schema',
      method: 'PUT',
      path: '/v1/job-types/x.y',
      body: { execution: 'remote', inputSchema: { type: 5, properties: 'x' } },
      status: 400,
      errors: ['body.inputSchema'],
    },
    {
      name: 'job type: a schema that is a string',
      method: 'PUT',
      path: '/v1/job-types/x.y',
      body: { execution: 'remote', inputSchema: 'any' },
      status: 400,
    },
    {
      name: 'job type: heartbeat out of range',
      method: 'PUT',
      path: '/v1/job-types/x.y',
      body: { execution: 'remote', heartbeatSeconds: 100_000, timeoutSeconds: 0 },
      status: 400,
      errors: ['body.timeoutSeconds', 'body.heartbeatSeconds'],
    },
    {
      name: 'job type: an unknown field',
      method: 'PUT',
      path: '/v1/job-types/x.y',
      body: { execution: 'remote', sql: 'drop table jobs' },
      status: 400,
    },
    {
      name: 'job type: a name with a path in it',
      method: 'PUT',
      path: '/v1/job-types/..%2f..%2fadmin',
      body: { execution: 'remote' },
      status: 400,
    },
    {
      name: 'job type: a name too long',
      method: 'PUT',
      path: `/v1/job-types/${'a'.repeat(65)}`,
      body: { execution: 'remote' },
      status: 400,
    },
    {
      name: 'job type: a javascript: push url',
      method: 'PUT',
      path: '/v1/job-types/x.y',
      body: { execution: 'push', url: 'javascript:alert(1)' },
      status: 400,
    },
    ...[
      'http://169.254.169.254/',
      'http://10.0.0.1/run',
      'http://[::ffff:127.0.0.2]/',
      'http://metadata/',
    ].map(
      (url): Case => ({
        name: `job type: push url ${url}`,
        method: 'PUT',
        path: '/v1/job-types/x.y',
        body: { execution: 'push', url },
        status: 422,
      }),
    ),
    {
      name: 'job type: a url on a remote type',
      method: 'PUT',
      path: '/v1/job-types/x.y',
      body: { execution: 'remote', url: `${receiver.url}/` },
      status: 400,
      errors: ['body.url'],
    },
    {
      name: 'job type: a built-in name',
      method: 'PUT',
      path: '/v1/job-types/http',
      body: { execution: 'remote' },
      status: 409,
    },
    {
      name: "job type: another tenant's",
      method: 'GET',
      path: '/v1/job-types/remote.fx',
      who: 'other',
      status: 404,
    },
    {
      name: 'remote input against its JSON Schema',
      method: 'POST',
      path: '/v1/jobs',
      body: { type: 'remote.fx', input: { year: 'MMXXVI' } },
      status: 400,
      errors: ['body.input.year'],
    },
    { name: 'claim: no types', method: 'POST', path: '/v1/worker/claim', body: { types: [] }, status: 400 },
    {
      name: 'claim: types not a list',
      method: 'POST',
      path: '/v1/worker/claim',
      body: { types: 'remote.fx' },
      status: 400,
    },
    {
      name: 'claim: too many types',
      method: 'POST',
      path: '/v1/worker/claim',
      body: { types: Array.from({ length: 21 }, (_, i) => `t${i}`) },
      status: 400,
    },
    {
      name: 'claim: max and wait out of range',
      method: 'POST',
      path: '/v1/worker/claim',
      body: { types: ['remote.fx'], max: 1000, waitSeconds: 3600 },
      status: 400,
      errors: ['body.max', 'body.waitSeconds'],
    },
    {
      name: 'claim: a type name that is a path',
      method: 'POST',
      path: '/v1/worker/claim',
      body: { types: ['../../etc'] },
      status: 400,
    },
    {
      name: 'claim: a built-in type',
      method: 'POST',
      path: '/v1/worker/claim',
      body: { types: ['echo'] },
      status: 422,
    },
    {
      name: "claim: another tenant's type",
      method: 'POST',
      path: '/v1/worker/claim',
      who: 'other',
      body: { types: ['remote.fx'] },
      status: 422,
    },
    {
      name: 'claim: no key',
      method: 'POST',
      path: '/v1/worker/claim',
      who: 'none',
      body: { types: ['remote.fx'] },
      status: 401,
    },
    { name: 'claim: not JSON', method: 'POST', path: '/v1/worker/claim', body: '{"types": [', status: 400 },
    {
      name: 'task: progress out of range',
      method: 'POST',
      path: `${T}/heartbeat`,
      who: 'none',
      body: { progress: { percent: 101, message: 'm'.repeat(5_000) } },
      status: 400,
      errors: ['body.progress.percent', 'body.progress.message'],
    },
    {
      name: 'task: progress of the wrong type',
      method: 'POST',
      path: `${T}/heartbeat`,
      who: 'none',
      body: { progress: { percent: '50%' } },
      status: 400,
    },
    {
      name: 'task: a result the database cannot store',
      method: 'POST',
      path: `${T}/complete`,
      who: 'none',
      body: '{"result": "nul \\u0000 inside"}',
      status: 400,
    },
    {
      name: 'task: fail without an error',
      method: 'POST',
      path: `${T}/fail`,
      who: 'none',
      body: { retry: 'no', retryAfterSeconds: -5 },
      status: 400,
    },
    {
      name: 'task: an unknown token',
      method: 'POST',
      path: `/v1/tasks/tt_${'A'.repeat(43)}/complete`,
      who: 'none',
      body: { result: 1 },
      status: 404,
    },
    {
      name: 'task: a token too long',
      method: 'POST',
      path: `/v1/tasks/${'x'.repeat(300)}/heartbeat`,
      who: 'none',
      status: 400,
    },
    { name: 'task: an unknown report', method: 'POST', path: `${T}/explode`, who: 'none', status: 404 },
    // Schedules (issue 21).
    { name: 'schedule: a string body', method: 'POST', path: '/v1/schedules', body: '"@daily"', status: 400 },
    {
      name: 'schedule: a cron with seconds',
      method: 'POST',
      path: '/v1/schedules',
      body: { cron: '* * * * * *', job: { type: 'echo', input: 1 } },
      status: 400,
      errors: ['body.cron'],
    },
    {
      name: 'schedule: a cron of 10,000 characters',
      method: 'POST',
      path: '/v1/schedules',
      body: { cron: `${'1,'.repeat(5_000)}1 * * * *`, job: { type: 'echo', input: 1 } },
      status: 400,
      errors: ['body.cron'],
    },
    {
      name: 'schedule: a zone that is a path',
      method: 'POST',
      path: '/v1/schedules',
      body: { cron: '@daily', timezone: '../../../etc/localtime', job: { type: 'echo', input: 1 } },
      status: 400,
      errors: ['body.timezone'],
    },
    {
      name: 'schedule: a job to the metadata address',
      method: 'POST',
      path: '/v1/schedules',
      body: {
        cron: '@daily',
        job: { type: 'http', input: { url: 'http://169.254.169.254/latest/meta-data' } },
      },
      status: 422,
    },
    {
      name: 'schedule: a template with runAt',
      method: 'POST',
      path: '/v1/schedules',
      body: { cron: '@daily', job: { type: 'echo', input: 1, runAt: '2030-01-01T00:00:00Z' } },
      status: 400,
    },
    {
      name: 'schedule: an id with a NUL',
      method: 'GET',
      path: '/v1/schedules/sch_%00',
      status: 400,
    },
    {
      name: 'schedule: paused as a string',
      method: 'PATCH',
      path: `/v1/schedules/sch_${'0'.repeat(26)}`,
      body: { paused: 'yes' },
      status: 400,
      errors: ['body.paused'],
    },
    {
      name: 'jobs: a scheduleId of another kind',
      method: 'GET',
      path: `/v1/jobs?scheduleId=job_${'0'.repeat(26)}`,
      status: 400,
    },
  ];

  t.ok(catalogue.length >= 60, `${catalogue.length} hostile inputs`);

  const keys: Record<Who, string | undefined> = {
    tenant: tenant.apiKey,
    other: other.apiKey,
    admin: ADMIN_KEY,
    none: undefined,
  };

  for (const c of catalogue) {
    const key = keys[c.who ?? 'tenant'];
    const body =
      c.body === undefined
        ? undefined
        : typeof c.body === 'string' || Buffer.isBuffer(c.body)
          ? c.body
          : JSON.stringify(c.body);
    const response = await send(
      base,
      c.method,
      c.path,
      {
        ...(key && { authorization: `Bearer ${key}` }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...c.headers,
      },
      body,
    );
    const problem = response.contentType.startsWith('application/problem+json')
      ? (JSON.parse(response.body) as { status?: number; title?: string; detail?: string })
      : undefined;
    t.equal(response.status, c.status, `${c.name}: ${c.status}`, { body: response.body.slice(0, 300) });
    t.ok(
      problem && problem.status === response.status && problem.title && problem.detail,
      `${c.name}: problem+json`,
    );
    if (c.errors) {
      const listed = (problem as { errors?: Array<{ path: string }> } | undefined)?.errors ?? [];
      t.same(
        listed.map((error) => error.path),
        c.errors,
        `${c.name}: errors name each field`,
      );
    }
  }

  t.test('the process is still up and serving', async (t) => {
    t.equal(service.child.exitCode, null, 'not exited');
    t.equal((await fetch(`${base}/healthz`)).status, 200);
    t.equal((await api('GET', `/v1/messages/${messageId}`)).status, 200, 'the API still answers');
    const errors = service.logs.filter((line) => Number(line.level) >= 50);
    t.same(errors, [], 'no error was logged');
  });
});
