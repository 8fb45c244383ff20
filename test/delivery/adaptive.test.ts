// Delivery concurrency per endpoint through the API: a fixed limit holds, an adaptive one backs off a receiver
// that pushes back, a Retry-After pauses the whole endpoint, and the endpoint view shows the limit in use.
import t, { type Test } from 'tap';
import { waitFor } from '../../harness/wait.ts';
import type { Api } from '../helpers/client.ts';
import { jobsApp } from '../helpers/jobs-app.ts';
import { upstream } from '../helpers/upstream.ts';

const app = await jobsApp(t, { DELIVERY_RETRY_SCHEDULE: '100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms' });

interface Endpoint {
  id: string;
  maxConcurrency: number;
  adaptiveConcurrency: boolean;
  concurrency: { limit: number; inFlight: number };
  pausedUntil: string | null;
}

/** A receiver that counts what it holds at once; `answer` decides on each request from that count. */
async function counting(
  t: Test,
  answer: (inFlight: number) => { status: number; delayMs: number; headers?: Record<string, string> },
) {
  let inFlight = 0;
  let peak = 0;
  const times: number[] = [];
  const statuses: number[] = [];
  const receiver = await upstream(t, () => {
    inFlight += 1;
    peak = Math.max(peak, inFlight);
    times.push(Date.now());
    const reply = answer(inFlight);
    statuses.push(reply.status);
    setTimeout(() => {
      inFlight -= 1;
    }, reply.delayMs);
    return reply;
  });
  return { url: `${receiver.url}/hook`, peak: () => peak, times, statuses };
}

async function submitTo(api: Api, endpointId: string, count: number) {
  for (let i = 0; i < count; i += 1) {
    const response = await api('POST', '/v1/jobs', { type: 'echo', input: i, endpointId });
    if (response.status !== 202) throw new Error(`submission answered ${response.status}`);
  }
}

async function delivered(endpointId: string, count: number) {
  await waitFor(
    `${count} messages delivered`,
    async () => {
      const { rows } = await app.ctx.pool.query(
        "select count(*)::int as n from messages where endpoint_id = $1 and status = 'delivered'",
        [endpointId],
      );
      return rows[0].n >= count ? true : undefined;
    },
    60_000,
  );
}

t.test('a fixed limit holds: never more in flight than maxConcurrency, and the view shows it', async (t) => {
  const tenant = await app.tenant('fixed');
  const receiver = await counting(t, () => ({ status: 200, delayMs: 200 }));
  const { body } = await tenant.api<Endpoint>('POST', '/v1/endpoints', {
    url: receiver.url,
    maxConcurrency: 3,
    adaptiveConcurrency: false,
  });
  t.match(body, { maxConcurrency: 3, adaptiveConcurrency: false, concurrency: { limit: 3, inFlight: 0 } });
  await submitTo(tenant.api, body.id, 24);
  const busy = await waitFor(
    'the view to show attempts in flight',
    async () => {
      const view = (await tenant.api<Endpoint>('GET', `/v1/endpoints/${body.id}`)).body;
      return view.concurrency.inFlight > 0 ? view : undefined;
    },
    20_000,
  );
  t.equal(busy.concurrency.limit, 3, 'the limit in use');
  t.ok(busy.concurrency.inFlight <= 3, `in flight ${busy.concurrency.inFlight}`);
  await delivered(body.id, 24);
  t.equal(receiver.peak(), 3, `the receiver held three at most, and three at times: ${receiver.peak()}`);
});

t.test('an adaptive limit backs off a receiver that answers 503 beyond what it can take', async (t) => {
  const tenant = await app.tenant('adaptive');
  // Takes 4 at once; answers 503 to any request beyond that.
  const receiver = await counting(t, (inFlight) =>
    inFlight > 4 ? { status: 503, delayMs: 0 } : { status: 200, delayMs: 40 },
  );
  const { body } = await tenant.api<Endpoint>('POST', '/v1/endpoints', {
    url: receiver.url,
    maxConcurrency: 50,
  });
  t.equal(body.adaptiveConcurrency, true, 'adaptive by default');
  await submitTo(tenant.api, body.id, 150);
  await delivered(body.id, 150);
  const refused = receiver.statuses.filter((status) => status === 503).length;
  t.ok(
    refused < receiver.statuses.length * 0.15,
    `few attempts refused: ${refused} of ${receiver.statuses.length}`,
  );
  t.ok(receiver.peak() < 12, `the receiver never held many more than it takes: ${receiver.peak()}`);
  const view = (await tenant.api<Endpoint>('GET', `/v1/endpoints/${body.id}`)).body;
  t.ok(
    view.concurrency.limit < 12,
    `the limit stayed near what the receiver takes: ${view.concurrency.limit}`,
  );
});

t.test('a Retry-After pauses the whole endpoint, not only its message', async (t) => {
  const tenant = await app.tenant('retry-after');
  let first = true;
  const receiver = await counting(t, () => {
    if (!first) return { status: 200, delayMs: 0 };
    first = false;
    return { status: 429, delayMs: 0, headers: { 'retry-after': '2' } };
  });
  const { body } = await tenant.api<Endpoint>('POST', '/v1/endpoints', {
    url: receiver.url,
    maxConcurrency: 1,
    adaptiveConcurrency: false,
  });
  await submitTo(tenant.api, body.id, 4);
  const paused = await waitFor(
    'the endpoint to be paused',
    async () => (await tenant.api<Endpoint>('GET', `/v1/endpoints/${body.id}`)).body.pausedUntil ?? undefined,
    20_000,
  );
  t.ok(Date.parse(paused) > Date.now(), 'pausedUntil is ahead');
  await delivered(body.id, 4);
  const [refusedAt, next] = receiver.times;
  t.ok(
    (next ?? 0) - (refusedAt ?? 0) >= 1_900,
    `the next attempt to the endpoint waited for the Retry-After: ${(next ?? 0) - (refusedAt ?? 0)} ms`,
  );
});

t.test(
  'maxConcurrency is 1-1000 and adaptiveConcurrency a boolean; null goes back to the default',
  async (t) => {
    const tenant = await app.tenant('endpoint-fields');
    for (const bad of [
      { maxConcurrency: 0 },
      { maxConcurrency: 1001 },
      { maxConcurrency: 2.5 },
      { maxConcurrency: '5' },
      { adaptiveConcurrency: 'yes' },
    ]) {
      const response = await tenant.api('POST', '/v1/endpoints', { url: 'http://127.0.0.1:9/hook', ...bad });
      t.equal(response.status, 400, `refused: ${JSON.stringify(bad)}`);
    }
    const { body } = await tenant.api<Endpoint>('POST', '/v1/endpoints', {
      url: 'http://127.0.0.1:9/hook',
      maxConcurrency: 1000,
    });
    t.equal(body.maxConcurrency, 1000);
    const reset = await tenant.api<Endpoint>('PATCH', `/v1/endpoints/${body.id}`, { maxConcurrency: null });
    t.equal(reset.body.maxConcurrency, 25, 'the default, DELIVERY_ENDPOINT_CONCURRENCY');
    const kept = await tenant.api<Endpoint>('PATCH', `/v1/endpoints/${body.id}`, {
      adaptiveConcurrency: false,
    });
    t.match(kept.body, { maxConcurrency: 25, adaptiveConcurrency: false, concurrency: { limit: 25 } });
  },
);
