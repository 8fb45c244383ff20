// The web console in a real headless Chromium (Debian's `chromium`, driven by playwright-core) against a real
// service process: log in, find a dead letter, replay it and see it delivered; replay many at once; rotate a
// secret; a schedule's next runs in two zones, trigger, pause, resume and delete; and a second tenant sees none
// of it; an endpoint's live concurrency chart, its blocked ordering keys and their waiting messages. `npm run
// test:e2e`; with SCREENSHOTS=dir, saves the main pages.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import t, { type Test } from 'tap';
import { client } from '../helpers/client.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY } from '../helpers/jobs-app.ts';
import { runHookrelay } from '../helpers/process.ts';
import { upstream } from '../helpers/upstream.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!fs.existsSync(CHROMIUM))
  throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
const SCREENSHOTS = process.env.SCREENSHOTS;

let failing = true;
const receiver = await upstream(t, () => ({ status: failing ? 410 : 200 }));
const service = runHookrelay(t, {
  DATABASE_URL: await freshDatabase(t),
  ADMIN_API_KEY: ADMIN_KEY,
  OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
  CIRCUIT_BREAKER_THRESHOLD: '10000',
});
const base = await service.ready();
const admin = client(base, ADMIN_KEY);
const tenantA = (await admin('POST', '/v1/admin/tenants', { name: 'a' })).body as { apiKey: string };
const tenantB = (await admin('POST', '/v1/admin/tenants', { name: 'b' })).body as { apiKey: string };
const api = client(base, tenantA.apiKey);
const endpoint = (
  await api<{ id: string; secret: string }>('POST', '/v1/endpoints', {
    url: `${receiver.url}/hook`,
    description: 'orders service',
  })
).body;
const JOBS = 12;
for (let i = 0; i < JOBS; i++) {
  const submitted = await api('POST', '/v1/jobs', {
    type: 'echo',
    input: { order: i },
    endpointId: endpoint.id,
  });
  if (submitted.status !== 202) throw new Error(`job not accepted: ${submitted.status}`);
}
const deadLetters = async () =>
  (
    await api<{ data: Array<{ id: string; messageId: string }> }>(
      'GET',
      `/v1/dead-letters?replayed=false&limit=100`,
    )
  ).body.data;
while ((await deadLetters()).length < JOBS) await new Promise((resolve) => setTimeout(resolve, 100));
const [letter] = await deadLetters();
// A job still running shows live progress on the jobs page.
await api('POST', '/v1/jobs', { type: 'demo.report', input: { steps: 60, stepMs: 1000 } });
failing = false;

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
t.teardown(() => browser.close());

/** Script errors and console errors per page: a script or style the page policy refused shows up here. */
const pageErrors = new WeakMap<Page, string[]>();

async function logIn(
  key: string,
  viewport = { width: 1280, height: 800 },
  timezoneId?: string,
): Promise<Page> {
  const context = await browser.newContext({ viewport, ...(timezoneId && { timezoneId }) });
  const page = await context.newPage();
  const errors: string[] = [];
  pageErrors.set(page, errors);
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    // API answers like a 404 are logged by the browser too; they are the page's business, not errors.
    const fromApi = new URL(message.location().url || base).pathname.startsWith('/v1/');
    if (message.type() === 'error' && !fromApi) errors.push(message.text());
  });
  await page.goto(`${base}/console`);
  await page.fill('input[name=key]', key);
  await page.click('button[type=submit]');
  await page.waitForSelector('h1:text("Jobs")');
  return page;
}

function noErrors(t: Test, page: Page) {
  t.same(pageErrors.get(page), [], 'no script errors, and nothing refused by the page policy');
}

async function snap(page: Page, name: string, fullPage = false) {
  if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, `console-${name}.png`), fullPage });
}

t.test('a wrong key is refused at the login form', async (t) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/console/`);
  await page.fill('input[name=key]', 'hr_not-a-key');
  await page.click('button[type=submit]');
  await page.waitForSelector('#notice.error');
  t.match(await page.textContent('#notice'), /Unauthorized|API key/);
  t.ok(await page.isVisible('input[name=key]'), 'still on the login form');
  t.notOk(await page.isVisible('nav'), 'the login page shows no navigation');
  await context.close();
});

t.test('logging out leaves the login form, without the navigation', async (t) => {
  const page = await logIn(tenantA.apiKey);
  t.ok(await page.isVisible('nav'), 'logged in: the navigation shows');
  await page.click('button:text("Log out")');
  await page.waitForSelector('input[name=key]');
  t.notOk(await page.isVisible('nav'), 'logged out: it does not');
  t.notOk(await page.isVisible('button:text("Log out")'));
});

t.test('long lists page: the count shown, and more on request', async (t) => {
  const many = (await admin('POST', '/v1/admin/tenants', { name: 'many' })).body as { apiKey: string };
  const manyApi = client(base, many.apiKey);
  for (let i = 0; i < 60; i++) await manyApi('POST', '/v1/jobs', { type: 'echo', input: { i } });
  const page = await logIn(many.apiKey);
  await page.waitForSelector('.paging');
  t.equal(await page.locator('tbody tr').count(), 50, 'one page of 50');
  t.match(await page.textContent('.paging'), /Showing 50 jobs; there are more\./);
  await page.click('button:text("Show 50 more")');
  await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 60);
  t.match(await page.textContent('.paging'), /Showing 60 jobs, all there are\./);
  // The live refresh keeps what was opened.
  await page.waitForTimeout(2_500);
  t.equal(await page.locator('tbody tr').count(), 60, 'a refresh keeps the rows shown');
  noErrors(t, page);
});

t.test('on a 390 px phone screen nothing overflows the page and the header is whole', async (t) => {
  const page = await logIn(tenantA.apiKey, { width: 390, height: 800 });
  for (const hash of [
    '#/jobs',
    '#/schedules',
    '#/messages',
    '#/dead-letters',
    `#/endpoints/${endpoint.id}`,
  ]) {
    await page.goto(`${base}/console/${hash}`);
    await page.waitForSelector('h1');
    await page.waitForLoadState('networkidle');
    const { scrollWidth, headerRight } = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      headerRight: Math.max(
        ...[...document.querySelectorAll('header a, header button')].map(
          (e) => e.getBoundingClientRect().right,
        ),
      ),
    }));
    t.ok(scrollWidth <= 390, `${hash}: the page is ${scrollWidth} px wide`);
    t.ok(headerRight <= 390, `${hash}: the header's links end at ${headerRight} px`);
  }
  noErrors(t, page);
});

t.test('find a dead letter, replay it, see it delivered', async (t) => {
  const page = await logIn(tenantA.apiKey);
  await page.waitForSelector('.badge.running');
  await snap(page, 'jobs');

  await page.click('nav a:text("Dead letters")');
  await page.fill('input[name=endpointId]', endpoint.id);
  await page.click('button:text("Filter")');
  await page.waitForSelector('tbody tr');
  t.equal(await page.locator('tbody tr').count(), JOBS, 'every dead letter is listed');
  await snap(page, 'dead-letters');
  const row = page.locator('tr', { hasText: letter?.id as string });
  t.match(await row.textContent(), /gone.*410/, 'the row shows why it died');
  await row.locator('button:text("Replay")').click();
  await page.waitForSelector(`#notice:text("Replayed ${letter?.id}")`);
  await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 11);

  await page.click('nav a:text("Messages")');
  await page.fill('input[name=endpointId]', endpoint.id);
  await page.click('button:text("Filter")');
  await page.click(`a:text("${letter?.messageId}")`);
  const heading = `h1:has-text("${letter?.messageId}")`;
  await page.waitForSelector(heading);
  for (let i = 0; i < 100 && !(await page.isVisible('.badge.delivered')); i++) {
    await page.waitForTimeout(200);
    await page.reload();
    await page.waitForSelector(heading);
  }
  t.ok(await page.isVisible('.badge.delivered'), 'the message shows as delivered');
  const attempts = page.locator('tbody tr');
  t.equal(await attempts.count(), 2, 'both attempts are listed');
  t.match(await attempts.nth(0).textContent(), /410/);
  t.match(await attempts.nth(1).textContent(), /200/);
  await snap(page, 'message');
  t.ok(
    receiver.requests.filter((r) => r.headers['webhook-id'] === letter?.messageId).length === 2,
    'the receiver got the same webhook-id again',
  );
  noErrors(t, page);
});

t.test('discard one, replay selected, replay all matching, rotate the secret, read the chart', async (t) => {
  const page = await logIn(tenantA.apiKey);
  await page.goto(`${base}/console/#/dead-letters?endpointId=${endpoint.id}`);
  await page.waitForFunction((n) => document.querySelectorAll('tbody tr').length === n, JOBS - 1);
  const rows = page.locator('tbody tr');
  const discarded = (await rows.nth(0).locator('td').nth(1).textContent())?.slice(0, 29) as string;
  const discardedMessageId = (await api<{ messageId: string }>('GET', `/v1/dead-letters/${discarded}`)).body
    .messageId;
  await rows.nth(0).locator('button:text("Discard")').click();
  await page.waitForSelector(`#notice:text("Discarded ${discarded}.")`);
  await page.waitForFunction((n) => document.querySelectorAll('tbody tr').length === n, JOBS - 2);
  t.equal((await api('GET', `/v1/dead-letters/${discarded}`)).status, 404, 'a discarded dead letter is gone');

  await rows.nth(0).locator('input[type=checkbox]').check();
  await rows.nth(1).locator('input[type=checkbox]').check();
  await page.click('button:text("Replay selected")');
  await page.waitForSelector('#notice:text("Replayed 2 dead letters.")');
  await page.waitForFunction((n) => document.querySelectorAll('tbody tr').length === n, JOBS - 4);

  page.once('dialog', (dialog) => {
    t.match(dialog.message(), `Replay ${JOBS - 4} dead letters?`);
    dialog.accept();
  });
  await page.click('button:text("Replay all matching")');
  await page.waitForSelector(`#notice:text("Replayed ${JOBS - 4} dead letters.")`);
  await page.waitForSelector('text=No dead letters match.');
  // Every dead letter but the discarded one went out again.
  while (receiver.requests.length < JOBS * 2 - 1) await new Promise((resolve) => setTimeout(resolve, 100));
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.equal(
    receiver.requests.filter((r) => r.headers['webhook-id'] === discardedMessageId).length,
    1,
    'the discarded one was not sent again',
  );

  await page.click('nav a:text("Endpoints")');
  await page.waitForSelector(`a:text("${endpoint.id}")`);
  t.match(
    await page.locator('tbody tr').first().textContent(),
    /47\.8 % of 23/,
    'the success rate over 24 h',
  );
  await snap(page, 'endpoints');
  await page.click(`a:text("${endpoint.id}")`);
  await page.waitForSelector('svg.chart.attempts');
  const heights = await page.$$eval('svg.chart.attempts rect', (rects) =>
    rects.map((r) => [r.getAttribute('class'), Number(r.getAttribute('height'))]),
  );
  t.ok(
    heights.some(([kind, height]) => kind === 'ok' && (height as number) > 0),
    'the chart draws successes',
  );
  t.ok(
    heights.some(([kind, height]) => kind === 'bad' && (height as number) > 0),
    'and failures',
  );
  const axis = await page.$$eval('svg.chart.attempts text', (texts) => texts.map((text) => text.textContent));
  t.match(axis[0], /\d.*\d\d:\d\d/, `the axis starts with a date and a time: ${axis[0]}`);
  t.notMatch(axis.join(' '), /AM|PM/, 'on a 24-hour clock');
  // The concurrency panel: the settings, the limit and the attempts in flight now, and a chart that takes a
  // sample at each poll (every 2 s); no ordering key of this endpoint is blocked.
  t.match(await page.innerText('dl'), /Concurrency\s+at most 25 in flight, adaptive/);
  t.match(
    (await page.innerText('.concurrency-panel .legend')).replace(/\s+/g, ' '),
    /^Limit \d+ In flight \d+ adapts between 1 and 25/,
  );
  // Each sample is two points of the step line.
  const samples = () =>
    page.$eval(
      'svg.chart.concurrency polyline.limit',
      (line) => line.getAttribute('points')?.split(' ').length,
    );
  const before = (await samples()) as number;
  await page.waitForFunction(
    (n) =>
      (document.querySelector('svg.chart.concurrency polyline.limit')?.getAttribute('points') ?? '').split(
        ' ',
      ).length > n,
    before,
  );
  t.ok(((await samples()) as number) > before, 'the concurrency chart grows with each poll');
  t.equal(
    await page.textContent('.blocked-keys'),
    'No blocked ordering keys: nothing waits behind a failed message.',
  );
  t.not(await page.textContent('#secret'), endpoint.secret, 'the secret is masked');
  t.match(await page.textContent('#secret'), /^whsec_•+$/);
  await page.click('button:text("Reveal")');
  t.equal(await page.textContent('#secret'), endpoint.secret, 'Reveal shows it');
  await page.click('button:text("Hide")');
  await page.click('button:text("Rotate secret")');
  await page.waitForSelector('#notice:text("Secret rotated")');
  const shown = await page.textContent('#secret');
  const stored = (await api<{ secret: string }>('GET', `/v1/endpoints/${endpoint.id}`)).body.secret;
  t.equal(shown, stored, 'the page shows the new secret');
  t.not(shown, endpoint.secret, 'it changed');
  await snap(page, 'endpoint');
  noErrors(t, page);
});

t.test('an endpoint held back: a fixed limit, a blocked ordering key and its queue, a pause', async (t) => {
  const tenant = (await admin('POST', '/v1/admin/tenants', { name: 'ordered' })).body as { apiKey: string };
  const own = client(base, tenant.apiKey);
  const held = await upstream(t, (request) => {
    const key = (JSON.parse(request.body) as { data: { metadata?: { key?: string } } }).data.metadata?.key;
    if (key === 'pause') return { status: 429, headers: { 'retry-after': '600' } };
    return { status: key === 'order-7' ? 503 : 204 };
  });
  const target = (
    await own<{ id: string }>('POST', '/v1/endpoints', {
      url: `${held.url}/hook`,
      eventTypes: ['job.succeeded'],
      maxConcurrency: 4,
      adaptiveConcurrency: false,
    })
  ).body;
  for (let n = 0; n < 3; n++)
    await own('POST', '/v1/jobs', {
      type: 'echo',
      input: { n },
      endpointId: target.id,
      orderingKey: 'order-7',
      metadata: { key: 'order-7' },
    });
  let head = '';
  while (!head) {
    const keys = (
      await own<{ data: Array<{ pending: number; head: { messageId: string } }> }>(
        'GET',
        `/v1/endpoints/${target.id}/ordering-keys`,
      )
    ).body.data;
    if (keys[0]?.pending === 3) head = keys[0].head.messageId;
    else await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const page = await logIn(tenant.apiKey);
  const polls: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === `/v1/endpoints/${target.id}`) polls.push(request.url());
  });
  await page.goto(`${base}/console/#/endpoints/${target.id}`);
  await page.waitForSelector('.blocked-keys tbody tr');
  t.match(await page.innerText('dl'), /Concurrency\s+at most 4 in flight, fixed/);
  t.match(
    (await page.innerText('.concurrency-panel .legend')).replace(/\s+/g, ' '),
    /^Limit 4 In flight \d+ fixed at 4/,
    'the limit of a fixed endpoint is its maximum',
  );
  const headings = await page.$$eval('.blocked-keys th', (cells) => cells.map((cell) => cell.textContent));
  t.same(headings, ['Key', 'Pending', 'Head message', 'Attempts', 'Last answer', 'Next attempt']);
  const cells = await page.$$eval('.blocked-keys tbody tr td', (tds) => tds.map((td) => td.textContent));
  t.match(cells, ['order-7', '3', head, /^\d+$/, '503', /^(in \d+ s|\d+ s ago)$/]);
  t.equal(
    await page.getAttribute(`.blocked-keys a:text("${head}")`, 'href'),
    `#/messages/${head}`,
    'the head links to its message',
  );
  // A poll at least (every 2 s), before the page is left below.
  while (polls.length < 2) await page.waitForTimeout(100);
  await snap(page, 'endpoint-held', true);

  // The key links to its queue: the head pending, the two behind it waiting.
  await page.click('.blocked-keys a:text("order-7")');
  await page.waitForSelector('h1:text("Messages")');
  await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 3);
  t.equal(await page.inputValue('input[name=orderingKey]'), 'order-7', 'the filter is the key');
  t.equal(await page.locator('tbody tr .badge.waiting').count(), 2, 'two messages wait behind the head');
  const headRow = page.locator('tbody tr', { hasText: head });
  t.equal(await headRow.locator('.badge.waiting').count(), 0, 'the head does not wait');
  t.equal(await page.locator('tbody tr td.mono:text-is("order-7")').count(), 3, 'each shows its key');
  await snap(page, 'messages-waiting');

  // Leaving the endpoint page stops its polling.
  const seen = polls.length;
  await page.waitForTimeout(4_500);
  t.equal(polls.length, seen, 'no poll after the page was left');

  await page.click(`a:text("${head}")`);
  await page.waitForSelector(`h1:has-text("${head}")`);
  t.match((await page.innerText('dl')).replace(/\s+/g, ' '), /Ordering key order-7 its pending messages/);

  // A Retry-After pauses the whole endpoint: the page says until when, at its next poll.
  await page.goto(`${base}/console/#/endpoints/${target.id}`);
  await page.waitForSelector('svg.chart.concurrency');
  await own('POST', '/v1/jobs', {
    type: 'echo',
    input: {},
    endpointId: target.id,
    metadata: { key: 'pause' },
  });
  await page.waitForSelector('p.paused', { timeout: 30_000 });
  t.match(
    (await page.innerText('p.paused')).replace(/\s+/g, ' '),
    /^Paused by the receiver's Retry-After: no attempt goes to it; the pause ends in (9|10) min\.$/,
  );
  noErrors(t, page);
});

t.test('another tenant sees none of it', async (t) => {
  const page = await logIn(tenantB.apiKey);
  await page.waitForSelector('text=No jobs yet.');
  await page.click('nav a:text("Dead letters")');
  await page.waitForSelector('text=No dead letters match.');
  await page.goto(`${base}/console/#/messages/${letter?.messageId}`);
  await page.waitForSelector(`text=No message ${letter?.messageId}`);
  await page.goto(`${base}/console/#/endpoints/${endpoint.id}`);
  await page.waitForSelector(`text=No endpoint ${endpoint.id}`);
  t.pass("A's objects are 404s to B");
  noErrors(t, page);
});

t.test('a remote job shows how it runs, its lease and its last heartbeat', async (t) => {
  const tenant = (await admin('POST', '/v1/admin/tenants', { name: 'remote' })).body as { apiKey: string };
  const remote = client(base, tenant.apiKey);
  t.equal((await remote('PUT', '/v1/job-types/reports.remote', { execution: 'remote' })).status, 201);
  const job = (await remote<{ id: string }>('POST', '/v1/jobs', { type: 'reports.remote', input: {} })).body;
  const claimed = (
    await remote<{ data: Array<{ taskToken: string }> }>('POST', '/v1/worker/claim', {
      types: ['reports.remote'],
    })
  ).body.data[0];
  const report = (what: string, body: unknown) =>
    client(base)('POST', `/v1/tasks/${claimed?.taskToken}/${what}`, body);
  t.equal((await report('heartbeat', { progress: { percent: 40, message: 'page 4' } })).status, 200);

  const page = await logIn(tenant.apiKey);
  await page.goto(`${base}/console/#/jobs/${job.id}`);
  await page.waitForSelector(`h1:has-text("${job.id}")`);
  const details = async () => (await page.innerText('dl')).replace(/\s+/g, ' ');
  t.match(await details(), /Execution remote Status running Lease expires in \d+ s Last heartbeat \d+ s ago/);
  const [lease, heartbeat] = await page.$$eval('dd time', (times) =>
    times.slice(0, 2).map((time) => time.getAttribute('title')),
  );
  t.match(lease, /^\d{4}-\d\d-\d\dT/, 'the exact time on hover');
  t.match(heartbeat, /^\d{4}-\d\d-\d\dT/);

  t.equal((await report('complete', { result: { pages: 10 } })).status, 200);
  await page.waitForSelector('.badge.succeeded');
  t.notMatch(await details(), 'Lease expires', 'no lease once the job has ended');
  noErrors(t, page);
});

t.test(
  "a schedule: its next runs in its zone and the browser's, trigger, pause, resume, delete",
  async (t) => {
    // A tenant of its own: the jobs it makes deliver nowhere and count in no other test.
    const tenant = (await admin('POST', '/v1/admin/tenants', { name: 'scheduled' })).body as {
      apiKey: string;
    };
    const own = client(base, tenant.apiKey);
    const created = await own<{ id: string; nextRuns: string[] }>('POST', '/v1/schedules', {
      name: 'nightly <b>report</b>',
      cron: '30 2 * * *',
      timezone: 'Asia/Kolkata',
      job: { type: 'echo', input: { report: 'nightly' } },
    });
    t.equal(created.status, 201);
    const schedule = created.body;
    const idle = (
      await own<{ id: string }>('POST', '/v1/schedules', {
        cron: '@daily',
        job: { type: 'echo', input: {} },
        paused: true,
      })
    ).body;
    const name = 'nightly <b>report</b>';

    // The browser's clock reads UTC: 02:30 in Kolkata (no summer time) is 21:00 there.
    const page = await logIn(tenant.apiKey, undefined, 'UTC');
    await page.click('nav a:text("Schedules")');
    await page.waitForSelector('h1:text("Schedules")');
    await page.waitForSelector('tbody tr');
    t.ok(await page.isVisible('nav a.active:text("Schedules")'), 'the nav marks the page');
    t.equal(await page.locator('tbody tr').count(), 2, 'both schedules are listed');
    t.match(await page.textContent('.paging'), /Showing 2 schedules, all there are\./);
    const row = page.locator('tbody tr', { hasText: schedule.id });
    t.equal(await row.locator('a').first().textContent(), name, 'the name is text, not markup');
    t.equal(await page.locator('main b').count(), 0);
    t.match(
      (await row.innerText()).replace(/\s+/g, ' '),
      /30 2 \* \* \* Asia\/Kolkata active in \d+ (s|min|h) — 0 fired, 0 skipped/,
    );
    const idleRow = page.locator('tbody tr', { hasText: idle.id });
    t.match(
      (await idleRow.innerText()).replace(/\s+/g, ' '),
      /0 0 \* \* \* UTC paused — — 0 fired, 0 skipped/,
    );
    await snap(page, 'schedules');

    await row.locator(`a:text("${name}")`).click();
    await page.waitForSelector(`h1:has-text("${schedule.id}")`);
    const runs = page.locator('h2:text("Next runs") + div tbody tr');
    t.equal(await runs.count(), 5, 'five runs ahead');
    const headings = await page.$$eval('h2:text("Next runs") + div th', (cells) =>
      cells.map((cell) => cell.textContent ?? ''),
    );
    t.same(headings.slice(0, 2), ['When', 'In Asia/Kolkata']);
    t.match(headings[2], /^Your time \((Etc\/)?UTC\)$/, 'the local column names the browser zone');
    for (let i = 0; i < 5; i++) {
      const [, zoned, local] = await runs
        .nth(i)
        .locator('td')
        .evaluateAll((cells) => cells.map((cell) => cell.textContent ?? ''));
      t.match(zoned, /02:30/, `run ${i + 1} in the schedule's zone: ${zoned}`);
      t.match(local, /21:00/, `and in the browser's: ${local}`);
    }
    const template = (await page.textContent('pre.json')) ?? '';
    t.match(JSON.parse(template), { type: 'echo', input: { report: 'nightly' } }, 'the job template');
    t.match(template, /\n {4}"report": "nightly"/, 'indented');

    await page.click('button:text("Trigger now")');
    await page.waitForSelector('#notice a');
    const jobId = (await page.textContent('#notice a')) as string;
    t.match(jobId, /^job_/);
    t.equal(await page.textContent('#notice'), `Triggered ${name} (${schedule.id}): ${jobId}.`);
    await page.waitForSelector(`h2:text("Recent jobs") + div a:text("${jobId}")`);
    t.match((await page.innerText('dl')).replace(/\s+/g, ' '), new RegExp(`Last run \\d+ s ago ${jobId}`));
    await page.click('#notice a');
    await page.waitForSelector(`h1:has-text("${jobId}")`);
    t.ok(await page.isVisible(`dd a:text("${schedule.id}")`), 'the job names its schedule');
    await page.click(`dd a:text("${schedule.id}")`);
    await page.waitForSelector(`h1:has-text("${schedule.id}")`);

    await page.click('button:text("Pause")');
    await page.waitForSelector('#notice:text("Paused")');
    await page.waitForSelector('button:text("Resume")');
    await page.waitForSelector('text=None while paused.');
    t.ok(await page.isVisible('dd .badge.paused'));
    t.equal((await own<{ paused: boolean }>('GET', `/v1/schedules/${schedule.id}`)).body.paused, true);
    await page.click('button:text("Resume")');
    await page.waitForSelector('#notice:text("Resumed")');
    await page.waitForSelector('dd .badge.active');
    t.equal(await runs.count(), 5, 'runs ahead again');
    await snap(page, 'schedule');

    page.once('dialog', (dialog) => {
      t.equal(dialog.message(), `Delete schedule ${name} (${schedule.id})? The jobs it made stay.`);
      dialog.accept();
    });
    await page.click('button:text("Delete")');
    await page.waitForSelector(`#notice:text("Deleted schedule ${name} (${schedule.id}).")`);
    await page.waitForSelector('h1:text("Schedules")');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 1);
    t.equal((await own('GET', `/v1/schedules/${schedule.id}`)).status, 404, 'the schedule is gone');
    t.equal((await own('GET', `/v1/jobs/${jobId}`)).status, 200, 'the job it made stays');
    // The refresh after the move says nothing of the deleted schedule.
    await page.waitForTimeout(2_500);
    t.notOk(await page.isVisible('#notice.error'), 'no error once it is gone');
    noErrors(t, page);

    const phone = await logIn(tenant.apiKey, { width: 390, height: 800 });
    await phone.goto(`${base}/console/#/schedules/${idle.id}`);
    await phone.waitForSelector(`h1:has-text("${idle.id}")`);
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    t.ok(width <= 390, `a schedule on a phone is ${width} px wide`);
    noErrors(t, phone);

    const other = await logIn(tenantB.apiKey);
    await other.goto(`${base}/console/#/schedules`);
    await other.waitForSelector('text=No schedules yet.');
    await other.goto(`${base}/console/#/schedules/${idle.id}`);
    await other.waitForSelector(`text=No schedule ${idle.id}`);
    t.pass("another tenant's schedules are 404s");
    noErrors(t, other);
  },
);
