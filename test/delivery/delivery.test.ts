// Webhook delivery end to end: real receivers on 127.0.0.1, signatures checked with the independent
// `standardwebhooks` verifier, every outcome and the operator routes around them.
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import type { Api } from '../helpers/client.ts';
import { type Job, jobsApp } from '../helpers/jobs-app.ts';
import { type Answer, type Recorded, upstream, verifiedWebhook } from '../helpers/upstream.ts';

const app = await jobsApp(t, { DELIVERY_RETRY_SCHEDULE: '100ms,100ms', DELIVERY_TIMEOUT: '1s' });

interface Message {
  id: string;
  status: string;
  attemptCount: number;
  attempts: Array<{
    responseStatus: number | null;
    error: string | null;
    durationMs: number;
    responseBody: string | null;
  }>;
  [key: string]: unknown;
}

interface DeadLetter {
  id: string;
  messageId: string;
  reason: string;
  attempts: number;
  replayedAt: string | null;
  replayedBy: string | null;
  [key: string]: unknown;
}

/** Waits (through the API, polling briefly) until the message reaches a final state. */
async function settled(api: Api, messageId: string, want: string): Promise<Message> {
  return waitFor(
    `message ${messageId} to become ${want}`,
    async () => {
      const message = (await api<Message>('GET', `/v1/messages/${messageId}`)).body;
      return message.status === want ? message : undefined;
    },
    30_000,
  );
}

async function deliveries(api: Api, jobId: string): Promise<Message[]> {
  return (await api<{ data: Message[] }>('GET', `/v1/jobs/${jobId}/deliveries`)).body.data;
}

async function runJob(api: Api, body: Record<string, unknown>): Promise<string> {
  const id = (await api('POST', '/v1/jobs', { type: 'echo', input: { n: 1 }, ...body })).body.id as string;
  const job = (await api<Job>('GET', `/v1/jobs/${id}?waitSeconds=30`)).body;
  if (job.status !== 'succeeded') throw new Error(`job ${id} ended ${job.status}`);
  return id;
}

t.test(
  'a callbackUrl gets the job result, signed with the tenant secret (standardwebhooks verifies)',
  async (t) => {
    const tenant = await app.tenant('callback');
    const secret = (await app.ctx.pool.query('select signing_secret from tenants where id = $1', [tenant.id]))
      .rows[0].signing_secret as string;
    const receiver = await upstream(t, () => ({ status: 200, body: 'ok' }));
    const jobId = await runJob(tenant.api, {
      callbackUrl: `${receiver.url}/hook`,
      metadata: { order: 'o-1' },
    });
    const [message] = await deliveries(tenant.api, jobId);
    t.ok(message);
    await settled(tenant.api, message?.id ?? '', 'delivered');
    const request = receiver.requests[0] as Recorded;
    t.equal(request.url, '/hook');
    t.equal(request.headers['webhook-id'], message?.id, 'webhook-id is the message id');
    t.equal(request.headers['x-job-id'], jobId);
    t.equal(request.headers['content-type'], 'application/json');
    t.match(request.headers['user-agent'], /^hookrelay\/\d/);
    const event = verifiedWebhook(secret, request);
    t.equal(event.type, 'job.succeeded');
    t.match(event.data, {
      jobId,
      jobType: 'echo',
      status: 'succeeded',
      result: { n: 1 },
      attempts: 1,
      metadata: { order: 'o-1' },
    });
    t.type(event.data.completedAt, 'string');
  },
);

t.test(
  'fan-out to subscribed endpoints with their own secrets; filters and disabled endpoints respected',
  async (t) => {
    const tenant = await app.tenant('fanout');
    const receiver = await upstream(t, () => ({ status: 204 }));
    const make = async (path: string, extra: Record<string, unknown> = {}) =>
      (
        await tenant.api<{ id: string; secret: string }>('POST', '/v1/endpoints', {
          url: `${receiver.url}${path}`,
          ...extra,
        })
      ).body;
    const all = await make('/all', { headers: { 'x-team': 'billing' } });
    const failedOnly = await make('/failed', { eventTypes: ['job.failed'] });
    await make('/disabled', { disabled: true });
    const succeededToo = await make('/succeeded', { eventTypes: ['job.succeeded', 'job.failed'] });
    const jobId = await runJob(tenant.api, {});
    const messages = await deliveries(tenant.api, jobId);
    t.equal(messages.length, 2, 'one message per subscribed, enabled endpoint');
    for (const message of messages) await settled(tenant.api, message.id, 'delivered');
    t.same(receiver.requests.map((r) => r.url).sort(), ['/all', '/succeeded']);
    const byPath = new Map(receiver.requests.map((r) => [r.url, r]));
    t.equal(verifiedWebhook(all.secret, byPath.get('/all') as Recorded).type, 'job.succeeded');
    t.equal(verifiedWebhook(succeededToo.secret, byPath.get('/succeeded') as Recorded).type, 'job.succeeded');
    t.throws(
      () => verifiedWebhook(failedOnly.secret, byPath.get('/all') as Recorded),
      'each endpoint has its own secret',
    );
    t.equal(byPath.get('/all')?.headers['x-team'], 'billing', 'endpoint headers are sent');
  },
);

t.test('an endpointId on the job sends to that endpoint only', async (t) => {
  const tenant = await app.tenant('direct');
  const receiver = await upstream(t, () => ({ status: 200 }));
  const chosen = (
    await tenant.api<{ id: string }>('POST', '/v1/endpoints', { url: `${receiver.url}/chosen` })
  ).body;
  await tenant.api('POST', '/v1/endpoints', { url: `${receiver.url}/other` });
  const jobId = await runJob(tenant.api, { endpointId: chosen.id });
  const messages = await deliveries(tenant.api, jobId);
  t.equal(messages.length, 1);
  await settled(tenant.api, messages[0]?.id ?? '', 'delivered');
  t.same(
    receiver.requests.map((r) => r.url),
    ['/chosen'],
  );
  const unknown = await tenant.api('POST', '/v1/jobs', {
    type: 'echo',
    input: 1,
    endpointId: 'ep_01ARZ3NDEKTSV4RRFFQ69G5FAV',
  });
  t.equal(unknown.status, 422);
});

t.test('fail, then succeed: every attempt recorded, the same webhook-id each time', async (t) => {
  const tenant = await app.tenant('flaky');
  const receiver = await upstream(t, (_r, i) => (i === 0 ? { status: 500, body: 'boom' } : { status: 200 }));
  const jobId = await runJob(tenant.api, { callbackUrl: receiver.url });
  const [message] = await deliveries(tenant.api, jobId);
  const done = await settled(tenant.api, message?.id ?? '', 'delivered');
  t.equal(done.attemptCount, 2);
  t.same(
    done.attempts.map((a) => a.responseStatus),
    [500, 200],
  );
  t.equal(done.attempts[0]?.responseBody, 'boom');
  t.equal(done.attempts[0]?.error, 'receiver answered 500');
  t.equal(new Set(receiver.requests.map((r) => r.headers['webhook-id'])).size, 1);
});

t.test('exhausted attempts: dead letter; replay keeps the webhook-id and records who replayed', async (t) => {
  const tenant = await app.tenant('down');
  let up = false;
  const receiver = await upstream(t, () => (up ? { status: 200 } : { status: 503 }));
  const jobId = await runJob(tenant.api, { callbackUrl: receiver.url });
  const [message] = await deliveries(tenant.api, jobId);
  const dead = await settled(tenant.api, message?.id ?? '', 'dead');
  t.equal(dead.attemptCount, 3, 'DELIVERY_RETRY_SCHEDULE of two delays → three attempts');
  const letters = (await tenant.api<{ data: DeadLetter[] }>('GET', `/v1/dead-letters?jobId=${jobId}`)).body
    .data;
  t.equal(letters.length, 1);
  const letter = letters[0] as DeadLetter;
  t.match(letter, {
    messageId: message?.id,
    reason: 'exhausted',
    attempts: 3,
    lastResponseStatus: 503,
    replayedAt: null,
  });
  t.equal((await tenant.api('GET', `/v1/dead-letters/${letter.id}`)).status, 200);

  // Replayed while the receiver is still down: three more attempts, and a second dead letter.
  const replay = await tenant.api('POST', `/v1/dead-letters/${letter.id}/replay`);
  t.equal(replay.status, 202);
  t.equal(replay.body.messageId, message?.id);
  const deadAgain = await waitFor('the second dead letter', async () => {
    const all = (await tenant.api<{ data: DeadLetter[] }>('GET', `/v1/dead-letters?jobId=${jobId}`)).body
      .data;
    return all.find((l) => l.id !== letter.id);
  });
  t.equal(deadAgain.attempts, 6, "a dead letter's attempts count the message's attempts before the replay");
  const shown = await settled(tenant.api, message?.id ?? '', 'dead');
  t.equal(shown.attemptCount, 6, 'attemptCount goes on counting across a replay');
  t.equal(shown.attempts?.length, 6, '… and agrees with the attempts listed');
  const listed = (await tenant.api<{ data: Message[] }>('GET', `/v1/messages?jobId=${jobId}`)).body.data;
  t.equal(listed[0]?.attemptCount, 6, 'the list says the same');

  const again = await tenant.api('POST', `/v1/dead-letters/${letter.id}/replay`);
  t.equal(again.status, 409, 'a dead letter is replayed once');
  t.match(again.body.detail, /already replayed at \d{4}-\d\d-\d\dT/, 'the detail says when');
  const sent = receiver.requests.length;

  up = true;
  const second = await tenant.api('POST', `/v1/dead-letters/${deadAgain.id}/replay`);
  t.equal(second.status, 202);
  const delivered = await settled(tenant.api, message?.id ?? '', 'delivered');
  t.equal(delivered.attemptCount, 7);
  t.equal(receiver.requests.length, sent + 1, 'the refused replay sent nothing');
  t.same(
    receiver.requests.map((r) => r.headers['webhook-attempt']),
    ['1', '2', '3', '4', '5', '6', '7'],
    "webhook-attempt carries the message's own attempt number",
  );
  t.equal(
    new Set(receiver.requests.map((r) => r.headers['webhook-id'])).size,
    1,
    'same webhook-id after replay',
  );
  const after = (await tenant.api<DeadLetter>('GET', `/v1/dead-letters/${letter.id}`)).body;
  t.type(after.replayedAt, 'string', 'the dead letter stays, marked replayed');
  t.match(after.replayedBy, /^key_/);
  t.equal(
    (await tenant.api<{ data: DeadLetter[] }>('GET', `/v1/dead-letters?jobId=${jobId}`)).body.data.length,
    2,
    'two dead letters, one per exhausted schedule',
  );
});

t.test('410 Gone dead-letters at once', async (t) => {
  const tenant = await app.tenant('gone');
  const receiver = await upstream(t, () => ({ status: 410 }));
  const jobId = await runJob(tenant.api, { callbackUrl: receiver.url });
  const [message] = await deliveries(tenant.api, jobId);
  const dead = await settled(tenant.api, message?.id ?? '', 'dead');
  t.equal(dead.attemptCount, 1);
  const letters = (await tenant.api<{ data: DeadLetter[] }>('GET', '/v1/dead-letters')).body.data;
  t.equal(letters[0]?.reason, 'gone');
});

t.test('429 with Retry-After is honoured; a redirect is a failure and is not followed', async (t) => {
  const tenant = await app.tenant('polite');
  const times: number[] = [];
  const receiver = await upstream(t, (request, i): Answer => {
    if (request.url === '/elsewhere') return { status: 200 };
    times.push(Date.now());
    if (i === 0) return { status: 429, headers: { 'retry-after': '1' } };
    if (i === 1) return { status: 302, headers: { location: '/elsewhere' } };
    return { status: 200 };
  });
  const jobId = await runJob(tenant.api, { callbackUrl: `${receiver.url}/hook` });
  const [message] = await deliveries(tenant.api, jobId);
  const done = await settled(tenant.api, message?.id ?? '', 'delivered');
  t.same(
    done.attempts.map((a) => a.responseStatus),
    [429, 302, 200],
  );
  t.equal(done.attempts[1]?.error, 'redirect (302) not followed');
  t.notOk(
    receiver.requests.some((r) => r.url === '/elsewhere'),
    'the Location was never requested',
  );
  const gap = (times[1] ?? 0) - (times[0] ?? 0);
  t.ok(gap >= 900, `waited ${gap} ms after Retry-After: 1 (schedule here is 100 ms)`);
});

t.test(
  'an attempt that outlasts DELIVERY_TIMEOUT fails, and a hanging receiver does not hold up a healthy one',
  async (t) => {
    const tenant = await app.tenant('slow');
    const hanging = await upstream(t, () => ({ status: 200, delayMs: 5_000 }));
    const healthy = await upstream(t, () => ({ status: 200 }));
    const slowJob = await runJob(tenant.api, { callbackUrl: hanging.url });
    const started = Date.now();
    const fastJob = await runJob(tenant.api, { callbackUrl: healthy.url });
    const [fast] = await deliveries(tenant.api, fastJob);
    await settled(tenant.api, fast?.id ?? '', 'delivered');
    t.ok(Date.now() - started < 2_500, 'the healthy receiver was served while the other hung (5 s)');
    const [slow] = await deliveries(tenant.api, slowJob);
    const dead = await settled(tenant.api, slow?.id ?? '', 'dead');
    t.equal(dead.attempts[0]?.error, 'no response within 1000 ms');
    t.ok((dead.attempts[0]?.durationMs ?? 0) >= 900);
  },
);

t.test('secret rotation: both secrets sign for a while, each verifies alone', async (t) => {
  const tenant = await app.tenant('rotating');
  const receiver = await upstream(t, () => ({ status: 200 }));
  const endpoint = (
    await tenant.api<{ id: string; secret: string }>('POST', '/v1/endpoints', { url: receiver.url })
  ).body;
  const rotated = await tenant.api<{ secret: string }>('POST', `/v1/endpoints/${endpoint.id}/secret/rotate`);
  t.equal(rotated.status, 200);
  t.not(rotated.body.secret, endpoint.secret);
  const test = await tenant.api('POST', `/v1/endpoints/${endpoint.id}/test`);
  t.equal(test.status, 202);
  await settled(tenant.api, test.body.messageId as string, 'delivered');
  const request = receiver.requests[0] as Recorded;
  t.equal(String(request.headers['webhook-signature']).split(' ').length, 2);
  t.equal(verifiedWebhook(rotated.body.secret, request).type, 'endpoint.test');
  t.equal(verifiedWebhook(endpoint.secret, request).type, 'endpoint.test', 'the old secret still verifies');
  t.equal(request.headers['webhook-id'], test.body.messageId);
});

t.test('bulk replay by endpoint and time; discard hides a dead letter', async (t) => {
  const tenant = await app.tenant('bulk');
  let up = false;
  const receiver = await upstream(t, () => ({ status: up ? 200 : 410 }));
  const endpoint = (await tenant.api<{ id: string }>('POST', '/v1/endpoints', { url: receiver.url })).body;
  const since = new Date(Date.now() - 1000).toISOString();
  const jobs = [];
  for (let i = 0; i < 5; i++) jobs.push(await runJob(tenant.api, { endpointId: endpoint.id }));
  for (const jobId of jobs) {
    const [message] = await deliveries(tenant.api, jobId);
    await settled(tenant.api, message?.id ?? '', 'dead');
  }
  const letters = (
    await tenant.api<{ data: DeadLetter[] }>('GET', `/v1/dead-letters?endpointId=${endpoint.id}`)
  ).body.data;
  t.equal(letters.length, 5);
  t.equal((await tenant.api('DELETE', `/v1/dead-letters/${letters[0]?.id}`)).status, 204);
  t.equal((await tenant.api('GET', `/v1/dead-letters/${letters[0]?.id}`)).status, 404, 'discarded');
  const future = new Date(Date.now() + 60_000).toISOString();
  const none = await tenant.api('POST', '/v1/dead-letters/replay', {
    endpointId: endpoint.id,
    since: future,
  });
  t.same(none.body, { replayed: 0 }, 'the time range filters');
  up = true;
  const bulk = await tenant.api('POST', '/v1/dead-letters/replay', { endpointId: endpoint.id, since });
  t.equal(bulk.status, 202);
  t.same(bulk.body, { replayed: 4 }, 'all but the discarded one');
  const again = await tenant.api('POST', '/v1/dead-letters/replay', { endpointId: endpoint.id, since });
  t.same(again.body, { replayed: 0 }, 'a replayed dead letter is not replayed twice');
  for (const letter of letters.slice(1)) await settled(tenant.api, letter.messageId, 'delivered');
});

t.test('deleting an endpoint dead-letters what still waits for it', async (t) => {
  // A schedule that waits an hour after the first failure, so the message is still waiting at the delete.
  const patient = await jobsApp(t, { DELIVERY_RETRY_SCHEDULE: '1h' });
  const tenant = await patient.tenant('deleting');
  const receiver = await upstream(t, () => ({ status: 500 }));
  const endpoint = (await tenant.api<{ id: string }>('POST', '/v1/endpoints', { url: receiver.url })).body;
  const jobId = await runJob(tenant.api, { endpointId: endpoint.id });
  const [message] = await deliveries(tenant.api, jobId);
  await waitFor('the first delivery attempt', () => receiver.requests.length > 0);
  t.equal((await tenant.api('DELETE', `/v1/endpoints/${endpoint.id}`)).status, 204);
  t.equal((await tenant.api('GET', `/v1/endpoints/${endpoint.id}`)).status, 404);
  // Dead-lettered by the drain that follows the delete, in a batch.
  t.equal((await settled(tenant.api, message?.id ?? '', 'dead')).status, 'dead');
  const letters = (await tenant.api<{ data: DeadLetter[] }>('GET', '/v1/dead-letters')).body.data;
  t.equal(letters.length, 1);
  t.equal(letters[0]?.reason, 'endpoint_deleted');
});

t.test('endpoint validation and tenant scoping', async (t) => {
  const owner = await app.tenant('owner');
  const intruder = await app.tenant('intruder');
  const receiver = await upstream(t, () => ({ status: 200 }));
  const bad: Array<[Record<string, unknown>, number]> = [
    [{}, 400],
    [{ url: 'not a url' }, 400],
    [{ url: 'ftp://example.com' }, 400],
    [{ url: receiver.url, eventTypes: ['job.exploded'] }, 400],
    [{ url: receiver.url, headers: { 'Content-Type': 'text/plain' } }, 400],
    [{ url: receiver.url, headers: { 'webhook-signature': 'forged' } }, 400],
    [{ url: receiver.url, headers: { Connection: 'close' } }, 400],
    [{ url: receiver.url, headers: { 'x-ok': 'a\r\nx-injected: 1' } }, 400],
    [{ url: receiver.url, rateLimitPerSecond: 0 }, 400],
    [{ url: 'http://10.0.0.8/hook' }, 422],
    [{ url: 'http://169.254.169.254/' }, 422],
  ];
  for (const [body, status] of bad) {
    t.equal((await owner.api('POST', '/v1/endpoints', body)).status, status, JSON.stringify(body));
  }
  const endpoint = (
    await owner.api<{ id: string }>('POST', '/v1/endpoints', { url: receiver.url, description: 'main' })
  ).body;
  const patched = await owner.api('PATCH', `/v1/endpoints/${endpoint.id}`, {
    description: 'renamed',
    disabled: true,
  });
  t.match(patched.body, { description: 'renamed', disabled: true, url: receiver.url });
  t.equal(
    (await owner.api('PATCH', `/v1/endpoints/${endpoint.id}`, { url: 'http://10.1.1.1/' })).status,
    422,
  );

  const jobId = await runJob(owner.api, { callbackUrl: receiver.url });
  const [message] = await deliveries(owner.api, jobId);
  await settled(owner.api, message?.id ?? '', 'delivered');
  for (const [method, path] of [
    ['GET', `/v1/endpoints/${endpoint.id}`],
    ['PATCH', `/v1/endpoints/${endpoint.id}`],
    ['DELETE', `/v1/endpoints/${endpoint.id}`],
    ['POST', `/v1/endpoints/${endpoint.id}/secret/rotate`],
    ['POST', `/v1/endpoints/${endpoint.id}/test`],
    ['GET', `/v1/messages/${message?.id}`],
    ['POST', `/v1/messages/${message?.id}/resend`],
    ['GET', `/v1/jobs/${jobId}/deliveries`],
  ] as const) {
    const response = await intruder.api(method, path, method === 'PATCH' ? { description: 'x' } : undefined);
    t.equal(response.status, 404, `${method} ${path}`);
  }
  t.equal((await intruder.api<{ data: unknown[] }>('GET', '/v1/endpoints')).body.data.length, 0);
  t.equal((await intruder.api<{ data: unknown[] }>('GET', '/v1/messages')).body.data.length, 0);
  t.equal((await owner.api('GET', `/v1/endpoints/${endpoint.id}`)).body.description, 'renamed', 'untouched');
});

t.test(
  'a slow receiver gets at most DELIVERY_ENDPOINT_CONCURRENCY attempts at once; others are served meanwhile',
  async (t) => {
    const capped = await jobsApp(t, { DELIVERY_ENDPOINT_CONCURRENCY: '2', DELIVERY_TIMEOUT: '5s' });
    const tenant = await capped.tenant('capped');
    const arrivals: number[] = [];
    const slow = await upstream(t, () => {
      arrivals.push(Date.now());
      return { status: 200, delayMs: 600 };
    });
    const fast = await upstream(t, () => ({ status: 200 }));
    const slowEndpoint = (
      await tenant.api<{ id: string }>('POST', '/v1/endpoints', { url: slow.url, eventTypes: ['job.failed'] })
    ).body;
    const slowJobs: string[] = [];
    for (let i = 0; i < 6; i++) slowJobs.push(await runJob(tenant.api, { endpointId: slowEndpoint.id }));
    const started = Date.now();
    const fastJob = await runJob(tenant.api, { callbackUrl: fast.url });
    const [fastMessage] = await deliveries(tenant.api, fastJob);
    await settled(tenant.api, fastMessage?.id ?? '', 'delivered');
    t.ok(Date.now() - started < 2_500, `the other receiver was served in ${Date.now() - started} ms`);
    for (const jobId of slowJobs) {
      const [message] = await deliveries(tenant.api, jobId);
      await settled(tenant.api, message?.id ?? '', 'delivered');
    }
    // Each request is in flight for ~600 ms after it arrives: count the most that overlapped.
    const overlap = Math.max(
      ...arrivals.map((at) => arrivals.filter((other) => other <= at && other > at - 550).length),
    );
    t.ok(overlap <= 2, `at most 2 in flight at once (saw ${overlap})`);
    t.equal(arrivals.length, 6);
  },
);

t.test(
  'alerting: endpoint.disabled and message.dead_lettered reach subscribed endpoints, signed',
  async (t) => {
    const alerting = await jobsApp(t, {
      DELIVERY_RETRY_SCHEDULE: '200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms',
      ENDPOINT_DISABLE_AFTER: '1s',
    });
    const tenant = await alerting.tenant('alerts');
    const broken = await upstream(t, () => ({ status: 500 }));
    const pager = await upstream(t, () => ({ status: 200 }));
    const pagerEndpoint = (
      await tenant.api<{ id: string; secret: string }>('POST', '/v1/endpoints', {
        url: pager.url,
        eventTypes: ['message.dead_lettered', 'endpoint.disabled'],
      })
    ).body;
    const failing = (
      await tenant.api<{ id: string }>('POST', '/v1/endpoints', {
        url: broken.url,
        eventTypes: ['job.succeeded'],
      })
    ).body;
    const first = await runJob(tenant.api, { endpointId: failing.id });
    const [message] = await deliveries(tenant.api, first);
    await settled(tenant.api, message?.id ?? '', 'dead');

    const endpoint = (await tenant.api<{ disabled: boolean }>('GET', `/v1/endpoints/${failing.id}`)).body;
    t.equal(endpoint.disabled, true, 'disabled after failing for ENDPOINT_DISABLE_AFTER');
    const letters = (
      await tenant.api<{ data: DeadLetter[] }>('GET', `/v1/dead-letters?endpointId=${failing.id}`)
    ).body.data;
    t.equal(letters[0]?.reason, 'endpoint_disabled');

    await waitFor('the first alert at the pager', () => pager.requests.length >= 1);
    await new Promise((r) => setTimeout(r, 500));
    const events = pager.requests.map((request) => verifiedWebhook(pagerEndpoint.secret, request));
    // One alert for the endpoint, with the count its drain dead-lettered, not one per message.
    t.same(
      events.map((e) => e.type),
      ['endpoint.disabled'],
    );
    t.match(events[0]?.data, { endpointId: failing.id, url: broken.url, cause: 'failing', deadLettered: 1 });

    const later = await runJob(tenant.api, { endpointId: failing.id });
    // The job's own message, not the dead-letter alert about it (same job id), which may already exist.
    const parked = (await deliveries(tenant.api, later)).find((m) => m.endpointId === failing.id);
    await settled(tenant.api, parked?.id ?? '', 'dead');
    t.equal(broken.requests.length >= 1, true);
    // A job naming the disabled endpoint: its one message is dead-lettered, with its own alert.
    await waitFor('a second alert at the pager', () => pager.requests.length >= 2);
    const deadEvent = pager.requests
      .map((request) => verifiedWebhook(pagerEndpoint.secret, request))
      .find((e) => e.type === 'message.dead_lettered');
    t.match(deadEvent?.data, { messageId: parked?.id, reason: 'endpoint_disabled', endpointId: failing.id });
    const reenabled = await tenant.api<{ disabled: boolean }>('PATCH', `/v1/endpoints/${failing.id}`, {
      disabled: false,
    });
    t.equal(reenabled.body.disabled, false, 'an operator can enable it again');
  },
);

t.test(
  '/metrics: delivery outcomes, latency, dead letters, queue depth; labels never carry URLs or ids',
  async (t) => {
    const response = await fetch(`${app.base}/metrics`);
    t.equal(response.status, 200);
    t.match(response.headers.get('content-type'), /^text\/plain/);
    const text = await response.text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
    t.ok(
      value(/^hookrelay_delivery_attempts_total\{outcome="delivered"\} (\d+)/m) >= 5,
      'delivered attempts counted',
    );
    t.ok(value(/^hookrelay_delivery_attempts_total\{outcome="retry"\} (\d+)/m) >= 3, 'retries counted');
    t.ok(value(/^hookrelay_dead_letters_total\{reason="gone"\} (\d+)/m) >= 1, 'dead letters by reason');
    t.ok(value(/^hookrelay_jobs_finished_total\{status="succeeded"\} (\d+)/m) >= 10);
    t.match(
      text,
      /^hookrelay_delivery_attempt_duration_seconds_bucket\{le="0\.1",outcome="delivered"\} \d+/m,
    );
    t.match(text, /^hookrelay_queue_depth\{queue="deliveries"\} \d+/m);
    t.match(text, /^hookrelay_queue_oldest_waiting_seconds\{queue="jobs"\} [\d.]+/m);
    t.match(text, /^hookrelay_scrape_database_ok 1/m);
    t.notMatch(text, /127\.0\.0\.1|(msg|job|ep|ten)_[0-9A-Z]{26}/, 'no URLs or ids anywhere');
  },
);

t.test('the guard at send time: a host that now resolves to a private address gets no request', async (t) => {
  // No allow-list here: loopback is private, as it is in production.
  const strict = await jobsApp(t, { OUTBOUND_ALLOW_CIDRS: '', DELIVERY_RETRY_SCHEDULE: '100ms' });
  const tenant = await strict.tenant('strict');
  const receiver = await upstream(t, () => ({ status: 200 }));
  const port = new URL(receiver.url).port;
  const refused = await tenant.api('POST', '/v1/endpoints', { url: `http://localhost:${port}/hook` });
  t.equal(refused.status, 422, 'a name resolving to loopback is refused at registration');
  t.match(refused.body.detail, /loopback/);

  const endpoint = (
    await tenant.api<{ id: string }>('POST', '/v1/endpoints', { url: 'https://example.com/hook' })
  ).body;
  // As if example.com's DNS now answered 127.0.0.1 (rebinding): the stored URL points at this machine.
  await strict.ctx.pool.query('update endpoints set url = $2 where id = $1', [
    endpoint.id,
    `http://localhost:${port}/hook`,
  ]);
  const test = await tenant.api('POST', `/v1/endpoints/${endpoint.id}/test`);
  const dead = await settled(tenant.api, test.body.messageId as string, 'dead');
  t.equal(receiver.requests.length, 0, 'the receiver on loopback got nothing');
  t.match(dead.attempts[0]?.error, /loopback/);
  t.equal(dead.attempts[0]?.responseStatus, null);
});

t.test(
  'circuit breaker: consecutive failures pause an endpoint, a probe closes it, nothing is lost',
  async (t) => {
    const breaker = await jobsApp(t, {
      CIRCUIT_BREAKER_THRESHOLD: '3',
      CIRCUIT_BREAKER_COOLDOWN: '3s',
      DELIVERY_ENDPOINT_CONCURRENCY: '1',
      DELIVERY_RETRY_SCHEDULE: Array(20).fill('100ms').join(','),
    });
    const tenant = await breaker.tenant('breaker');
    let up = false;
    const receiver = await upstream(t, () => ({ status: up ? 200 : 500 }));
    const endpoint = (await tenant.api<{ id: string }>('POST', '/v1/endpoints', { url: receiver.url })).body;
    const messageIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      messageIds.push(
        (await tenant.api('POST', `/v1/endpoints/${endpoint.id}/test`)).body.messageId as string,
      );
    }
    const circuit = async () =>
      (
        await breaker.ctx.pool.query(
          'select circuit_open_until, consecutive_failures from endpoints where id = $1',
          [endpoint.id],
        )
      ).rows[0] as { circuit_open_until: Date | null; consecutive_failures: number };
    const opened = await waitFor(
      'the circuit to open',
      async () => {
        const row = await circuit();
        return row.circuit_open_until ? row : undefined;
      },
      20_000,
      25,
    );
    t.ok(opened.circuit_open_until, 'the circuit opened');
    t.ok(opened.consecutive_failures >= 3);
    const seen = receiver.requests.length;
    await new Promise((r) => setTimeout(r, 1_000));
    t.equal(receiver.requests.length, seen, 'no request reached the endpoint while the circuit was open');
    t.match(await (await fetch(`${breaker.base}/metrics`)).text(), /^hookrelay_circuit_breakers_open 1$/m);

    up = true;
    for (const id of messageIds) await settled(tenant.api, id, 'delivered');
    const closed = await circuit();
    t.equal(closed.circuit_open_until, null, 'a successful probe closed the circuit');
    t.equal(closed.consecutive_failures, 0);
    t.equal(
      (await tenant.api<{ data: unknown[] }>('GET', '/v1/dead-letters')).body.data.length,
      0,
      'nothing dead-lettered',
    );
    const waited = (await tenant.api<Message>('GET', `/v1/messages/${messageIds[4]}`)).body;
    t.ok(waited.attemptCount < 10, `deferrals are not attempts (${waited.attemptCount} attempts)`);
  },
);

t.test('rateLimitPerSecond holds across the bucket shared by all workers', async (t) => {
  const limited = await jobsApp(t, { DELIVERY_ENDPOINT_CONCURRENCY: '10' });
  const tenant = await limited.tenant('limited');
  const arrivals: number[] = [];
  const receiver = await upstream(t, () => {
    arrivals.push(Date.now());
    return { status: 200 };
  });
  const rate = 4;
  const endpoint = (
    await tenant.api<{ id: string }>('POST', '/v1/endpoints', { url: receiver.url, rateLimitPerSecond: rate })
  ).body;
  const ids: string[] = [];
  for (let i = 0; i < 12; i++)
    ids.push((await tenant.api('POST', `/v1/endpoints/${endpoint.id}/test`)).body.messageId as string);
  for (const id of ids) await settled(tenant.api, id, 'delivered');
  const first = arrivals[0] ?? 0;
  // A token bucket of `rate` tokens refilled at `rate` per second allows at most rate + rate·t requests by t.
  for (const [i, at] of arrivals.entries()) {
    const bound = rate + rate * ((at - first) / 1000) + 1;
    t.ok(i + 1 <= bound, `request ${i + 1} at ${at - first} ms is within the limit (${bound.toFixed(1)})`);
  }
  t.ok(
    (arrivals.at(-1) ?? 0) - first >= 1_500,
    `12 requests at 4/s took ${(arrivals.at(-1) ?? 0) - first} ms`,
  );
});

t.test('dead letters: tenant isolation on every route, and the operator sees every tenant', async (t) => {
  const owner = await app.tenant('dl-owner');
  const intruder = await app.tenant('dl-intruder');
  const receiver = await upstream(t, () => ({ status: 410 }));
  const jobId = await runJob(owner.api, { callbackUrl: receiver.url });
  const [message] = await deliveries(owner.api, jobId);
  await settled(owner.api, message?.id ?? '', 'dead');
  const letter = (await owner.api<{ data: DeadLetter[] }>('GET', `/v1/dead-letters?jobId=${jobId}`)).body
    .data[0] as DeadLetter;
  for (const [method, path] of [
    ['GET', `/v1/dead-letters/${letter.id}`],
    ['POST', `/v1/dead-letters/${letter.id}/replay`],
    ['DELETE', `/v1/dead-letters/${letter.id}`],
  ] as const) {
    t.equal((await intruder.api(method, path)).status, 404, `${method} ${path}`);
  }
  t.equal((await intruder.api<{ data: unknown[] }>('GET', '/v1/dead-letters')).body.data.length, 0);
  const bulk = await intruder.api('POST', '/v1/dead-letters/replay', {
    endpointId: letter.endpointId ?? undefined,
  });
  t.same(bulk.body, { replayed: 0 }, "a bulk replay never reaches another tenant's dead letters");
  t.equal(
    (await owner.api<DeadLetter>('GET', `/v1/dead-letters/${letter.id}`)).body.replayedAt,
    null,
    'untouched',
  );

  t.equal(
    (await owner.api('GET', '/v1/admin/dead-letters')).status,
    403,
    'tenant keys have no operator view',
  );
  const all = await app.admin<{ data: Array<DeadLetter & { tenantId: string }> }>(
    'GET',
    '/v1/admin/dead-letters?limit=100',
  );
  t.equal(all.status, 200);
  const mine = all.body.data.find((d) => d.id === letter.id);
  t.equal(mine?.tenantId, owner.id, 'the operator sees it, with its tenant');
  t.ok(new Set(all.body.data.map((d) => d.tenantId)).size > 1, 'and those of other tenants');
});

t.test('bulk replay works through many batches', async (t) => {
  const bulkApp = await jobsApp(t, {}, { workers: false });
  const tenant = await bulkApp.tenant('many');
  const endpoint = (
    await tenant.api<{ id: string }>('POST', '/v1/endpoints', { url: 'http://127.0.0.1:9/never' })
  ).body;
  const count = 1_234;
  // Dead letters made directly in the database: what is under test is the batched replay, not the failing.
  await bulkApp.ctx.pool.query(
    `with m as (
       insert into messages (id, tenant_id, endpoint_id, url, event_type, payload, status, attempts, receiver,
                             next_attempt_at)
       select 'msg_bulk' || lpad(i::text, 6, '0'), $1, $2, 'http://127.0.0.1:9/never', 'job.succeeded', '{}', 'dead', 3,
              $2, null
         from generate_series(1, $3) i
       returning id, tenant_id, endpoint_id, url, event_type
     )
     insert into dead_letters (id, tenant_id, message_id, endpoint_id, url, event_type, reason, attempts)
     select 'dl_' || substr(id, 5), tenant_id, id, endpoint_id, url, event_type, 'exhausted', 3 from m`,
    [tenant.id, endpoint.id, count],
  );
  const replay = await tenant.api('POST', '/v1/dead-letters/replay', { endpointId: endpoint.id });
  t.equal(replay.status, 202);
  t.same(replay.body, { replayed: count });
  const { rows } = await bulkApp.ctx.pool.query(
    `select count(*) filter (where status = 'pending' and attempts = 0 and next_attempt_at <= now())::int as due,
            count(distinct lease_id)::int as leases
       from messages where endpoint_id = $1`,
    [endpoint.id],
  );
  t.same(rows[0], { due: count, leases: count }, 'every message restarted, due now, with a lease of its own');
  const marked = await bulkApp.ctx.pool.query(
    'select count(*)::int as n from dead_letters where endpoint_id = $1 and replayed_at is not null and replayed_by is not null',
    [endpoint.id],
  );
  t.equal(marked.rows[0].n, count, 'every dead letter records the replay');
});
