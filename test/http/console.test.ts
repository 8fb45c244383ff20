// The console's files: served at /console by API processes, with their own strict policy and cache headers;
// nothing outside the console's folder is reachable, and worker processes do not serve it.
import t from 'tap';
import { jobsApp } from '../helpers/jobs-app.ts';

const app = await jobsApp(t, {}, { workers: false });

t.test('the page, its modules and their headers', async (t) => {
  const bare = await fetch(`${app.base}/console`, { redirect: 'manual' });
  t.equal(bare.status, 302);
  t.equal(bare.headers.get('location'), '/console/');

  const page = await fetch(`${app.base}/console/`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /text\/html/);
  t.equal(page.headers.get('cache-control'), 'no-cache', 'the page is always revalidated');
  const policy = page.headers.get('content-security-policy') ?? '';
  for (const directive of [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "frame-ancestors 'none'",
  ])
    t.match(policy, directive);
  t.notMatch(policy, /unsafe-inline|unsafe-eval/);
  t.match(await page.text(), '<script type="module" src="js/main.js">');

  const script = await fetch(`${app.base}/console/js/main.js`);
  t.equal(script.status, 200);
  t.match(script.headers.get('content-type'), /javascript/);
  t.equal(script.headers.get('cache-control'), 'public, max-age=300');
  const etag = script.headers.get('etag') as string;
  t.ok(etag, 'an ETag to revalidate with');
  await script.text();
  // As a browser revalidates (fetch alone would add no-cache, which asks for the full file).
  const again = await fetch(`${app.base}/console/js/main.js`, {
    headers: { 'if-none-match': etag, 'cache-control': 'max-age=0' },
  });
  t.equal(again.status, 304, 'unchanged files are not sent again');
});

t.test('every page in the nav is routed, and its view is served', async (t) => {
  const page = await (await fetch(`${app.base}/console/`)).text();
  const nav = page.slice(page.indexOf('<nav'), page.indexOf('</nav>'));
  const pages = [...nav.matchAll(/href="#\/([\w-]+)"/g)].map(([, name]) => name);
  t.same(pages, ['jobs', 'schedules', 'endpoints', 'messages', 'dead-letters'], 'the nav, in order');

  const main = await (await fetch(`${app.base}/console/js/main.js`)).text();
  const routes = main.slice(
    main.indexOf('const routes = {'),
    main.indexOf('};', main.indexOf('const routes')),
  );
  for (const name of pages)
    t.match(routes, new RegExp(`^\\s*'?${name}'?: \\[`, 'm'), `#/${name} has a route`);
  t.match(routes, /schedules: \[schedulesView, scheduleView\]/, 'schedules has a list and a detail view');

  const views = [...main.matchAll(/from '\.\/(views\/[\w-]+\.js)'/g)].map(([, file]) => file);
  t.ok(views.includes('views/schedules.js'), 'main.js imports the schedules view');
  for (const file of views) {
    const response = await fetch(`${app.base}/console/js/${file}`);
    t.equal(response.status, 200, `${file} is served`);
    t.match(response.headers.get('content-type'), /javascript/);
    const source = await response.text();
    t.notMatch(source, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, `${file} parses no markup`);
  }

  const schedules = await (await fetch(`${app.base}/console/js/views/schedules.js`)).text();
  for (const call of [
    "'/v1/jobs', { query: { scheduleId: id, limit: 10 } }",
    "path(id, resuming ? '/resume' : '/pause')",
    "path(id, '/trigger')",
    "api('DELETE', path(id))",
    "pagedList('/v1/schedules', 50)",
  ])
    t.match(schedules, call, `the schedules view calls ${call}`);
  t.match(schedules, /confirm\(/, 'deleting a schedule asks first');
});

t.test('nothing outside the console folder', async (t) => {
  for (const probe of [
    '/console/../package.json',
    '/console/%2e%2e/%2e%2e/package.json',
    '/console/js/../../http/app.ts',
    '/console/nope.js',
  ]) {
    const response = await fetch(`${app.base}${probe}`);
    t.ok(response.status >= 400 && response.status < 500, `${probe}: ${response.status}`);
    const body = await response.text();
    t.notMatch(body, /"name": "hookrelay"|buildApp/, `${probe} leaks nothing`);
  }
});

t.test('worker processes serve no console', async (t) => {
  const worker = await jobsApp(t, { HOOKRELAY_ROLE: 'worker' }, { workers: false });
  t.equal((await fetch(`${worker.base}/console/`)).status, 404);
});
