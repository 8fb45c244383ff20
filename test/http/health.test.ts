// Liveness and readiness as an orchestrator sees them.
import t from 'tap';
import { buildApp } from '../../src/http/app.ts';
import { createPool } from '../../src/store/pool.ts';
import { listen, testContext } from '../helpers/context.ts';

const ctx = await testContext(t);

t.test('healthz and readyz answer 200 on a migrated database', async (t) => {
  const base = await listen(t, await buildApp(ctx));
  const health = await fetch(`${base}/healthz`);
  t.equal(health.status, 200);
  t.same(await health.json(), { status: 'ok' });
  const ready = await fetch(`${base}/readyz`);
  t.equal(ready.status, 200);
  t.same(await ready.json(), { status: 'ready' });
});

t.test('readyz answers 503 while a migration this build knows is not applied', async (t) => {
  const migrations = [...ctx.migrations, { name: '9999_future.sql', sql: 'select 1', checksum: 'x' }];
  const base = await listen(t, await buildApp({ ...ctx, migrations }));
  const response = await fetch(`${base}/readyz`);
  t.equal(response.status, 503);
  t.equal(response.headers.get('retry-after'), '5');
  t.match(response.headers.get('content-type'), /application\/problem\+json/);
  t.match(((await response.json()) as { detail: string }).detail, /9999_future\.sql/);
});

t.test('readyz answers 503, not a hang or 500, when the database is unreachable', async (t) => {
  // A pool aimed at a closed port: the same failure as a Postgres that went away.
  const deadPool = createPool('postgres://nobody:x@127.0.0.1:1/none', 1, ctx.log, 'dead');
  t.teardown(() => deadPool.end());
  const base = await listen(t, await buildApp({ ...ctx, pool: deadPool }));
  const response = await fetch(`${base}/readyz`);
  t.equal(response.status, 503);
  t.equal(response.headers.get('retry-after'), '5');
  t.match(((await response.json()) as { detail: string }).detail, /not reachable/);
  t.equal((await fetch(`${base}/healthz`)).status, 200, 'liveness does not depend on the database');
});

t.test('the OpenAPI document is generated from the route schemas and rendered at /docs', async (t) => {
  const base = await listen(t, await buildApp(ctx));
  const response = await fetch(`${base}/openapi.json`);
  t.equal(response.status, 200);
  const document = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
  t.equal(document.openapi, '3.1.0');
  t.ok(document.paths['/readyz'], 'readyz is documented');
  t.notOk(document.paths['/openapi.json'], 'the document does not describe itself');
  const docs = await fetch(`${base}/docs/`);
  t.equal(docs.status, 200);
  t.match(docs.headers.get('content-type'), /text\/html/);
});

t.test(
  'security headers: a strict policy on API responses, the docs page admits only its own assets',
  async (t) => {
    const base = await listen(t, await buildApp(ctx));
    for (const path of ['/healthz', '/v1/nothing', '/openapi.json']) {
      const response = await fetch(`${base}${path}`);
      t.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
      t.equal(
        response.headers.get('content-security-policy'),
        "default-src 'none';frame-ancestors 'none'",
        path,
      );
      t.ok(response.headers.get('x-frame-options'), path);
      t.equal(response.headers.get('referrer-policy'), 'no-referrer', path);
    }
    const docs = await fetch(`${base}/docs/`);
    const policy = docs.headers.get('content-security-policy') ?? '';
    t.match(policy, /script-src 'self'/, 'the docs page may run its own scripts');
    t.notMatch(policy, /unsafe-eval/);
    const html = await docs.text();
    const script = /src="\.\/(static\/[^"]+\.js)"/.exec(html)?.[1];
    t.ok(script, 'the page references its script');
    const served = await fetch(`${base}/docs/${script}`);
    t.equal(served.status, 200, 'and that script is served');
    // Read to the end: a body left unread holds its connection open, and closing the server waited 73 s for it.
    t.ok((await served.arrayBuffer()).byteLength > 0);
  },
);
