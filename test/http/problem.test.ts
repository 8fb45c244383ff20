// Every error the HTTP layer produces is RFC 9457 problem+json with the right status.
import net from 'node:net';
import t, { type Test } from 'tap';
import { z } from 'zod';
import { buildApp } from '../../src/http/app.ts';
import { HttpProblem } from '../../src/http/problem.ts';
import { listen, testContext } from '../helpers/context.ts';

const ctx = await testContext(t, { BODY_LIMIT: '2048' });
const app = await buildApp(ctx);
// Routes that exist only in this test, to drive the shared error handling from the outside.
app.post(
  '/test/items',
  {
    schema: {
      body: z.object({
        name: z.string().min(1),
        count: z.number().int().positive(),
        tags: z.array(z.string()).max(2),
      }),
      querystring: z.object({ dryRun: z.enum(['true', 'false']).optional() }),
    },
  },
  async (request) => request.body,
);
app.get('/test/conflict', async () => {
  throw new HttpProblem(409, 'The job has already finished.', { headers: { 'x-extra': 'yes' } });
});
app.get('/test/bug', async () => {
  throw new Error('internal detail: connection string postgres://secret@db');
});
const base = await listen(t, app);

async function expectProblem(t: Test, response: Response, status: number) {
  t.equal(response.status, status, `status ${status}`);
  t.match(response.headers.get('content-type'), /^application\/problem\+json/);
  const body = (await response.json()) as Record<string, unknown>;
  t.equal(body.status, status);
  t.equal(body.type, 'about:blank');
  t.type(body.title, 'string');
  t.type(body.detail, 'string');
  return body;
}

t.test('unknown routes answer 404', async (t) => {
  const body = await expectProblem(t, await fetch(`${base}/v1/nothing-here`), 404);
  t.match(body.detail, /GET \/v1\/nothing-here/);
  await expectProblem(t, await fetch(`${base}/healthz`, { method: 'DELETE' }), 404);
});

t.test('malformed JSON answers 400', async (t) => {
  const response = await fetch(`${base}/test/items`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"name": "x",',
  });
  await expectProblem(t, response, 400);
});

t.test('schema failures answer 400 listing each field', async (t) => {
  const response = await fetch(`${base}/test/items?dryRun=maybe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: '', count: 1.5, tags: ['a', 'b', 'c'] }),
  });
  const body = await expectProblem(t, response, 400);
  const errors = body.errors as Array<{ path: string; message: string }>;
  const paths = errors.map((e) => e.path).sort();
  t.same(paths, ['body.count', 'body.name', 'body.tags'], 'body fields are validated together');
  for (const error of errors) t.type(error.message, 'string');

  const query = await fetch(`${base}/test/items?dryRun=maybe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'a', count: 1, tags: [] }),
  });
  const queryBody = await expectProblem(t, query, 400);
  t.same(
    (queryBody.errors as Array<{ path: string }>).map((e) => e.path),
    ['querystring.dryRun'],
  );
});

t.test('a valid request passes through', async (t) => {
  const response = await fetch(`${base}/test/items`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ name: 'a', count: 2, tags: ['x'] }),
  });
  t.equal(response.status, 200);
  t.same(await response.json(), { name: 'a', count: 2, tags: ['x'] });
});

t.test('bodies over the limit answer 413', async (t) => {
  const response = await fetch(`${base}/test/items`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'x'.repeat(4096), count: 1, tags: [] }),
  });
  await expectProblem(t, response, 413);
});

t.test('content types other than JSON answer 415', async (t) => {
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
    const response = await fetch(`${base}/test/items`, {
      method: 'POST',
      headers: { 'content-type': type },
      body: 'a=b',
    });
    await expectProblem(t, response, 415);
  }
});

t.test('handlers raise problems with their status and headers', async (t) => {
  const response = await fetch(`${base}/test/conflict`);
  const body = await expectProblem(t, response, 409);
  t.equal(body.detail, 'The job has already finished.');
  t.equal(response.headers.get('x-extra'), 'yes');
});

t.test('unexpected errors answer 500 without internals', async (t) => {
  const response = await fetch(`${base}/test/bug`, { headers: { 'x-request-id': 'trace-123' } });
  const body = await expectProblem(t, response, 500);
  t.notMatch(JSON.stringify(body), /secret|postgres:|internal detail|at /);
  t.match(body.detail, /trace-123/, 'the request id lets an operator find the log line');
});

t.test('request ids: a plain caller id is echoed, anything else is replaced', async (t) => {
  const given = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
  t.equal(given.headers.get('x-request-id'), 'abc-123');
  const hostile = await fetch(`${base}/healthz`, { headers: { 'x-request-id': `x${'y'.repeat(300)}` } });
  t.match(hostile.headers.get('x-request-id'), /^[0-9a-f-]{36}$/);
  const none = await fetch(`${base}/healthz`);
  t.match(none.headers.get('x-request-id'), /^[0-9a-f-]{36}$/);
});

/** Sends raw bytes, for requests no HTTP client library would produce. */
function raw(request: string): Promise<string> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(request));
    let response = '';
    socket.on('data', (chunk) => {
      response += chunk.toString();
    });
    socket.on('end', () => resolve(response));
    socket.on('error', reject);
  });
}

t.test('requests the HTTP parser rejects still get problem+json', async (t) => {
  const garbage = await raw('NOT A REQUEST\r\n\r\n');
  t.match(garbage, /^HTTP\/1\.1 400 /);
  t.match(garbage, /content-type: application\/problem\+json/i);
  t.match(garbage, /"status":400/);

  const hugeHeader = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  t.match(hugeHeader, /^HTTP\/1\.1 431 /);
  t.match(hugeHeader, /"status":431/);
});

t.test('the process survives all of the above', async (t) => {
  t.equal((await fetch(`${base}/healthz`)).status, 200);
});
