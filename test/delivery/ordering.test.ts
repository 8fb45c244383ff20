// Ordering keys end to end: jobs of a key run one at a time in submission order, their messages reach a
// receiver one at a time in that order, a blocked key holds up nobody else, and dead letters and replays keep
// the order (the contract's "Ordering keys").
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { z } from 'zod';
import { waitFor } from '../../harness/wait.ts';
import { defineHandler } from '../../src/jobs/handler.ts';
import type { Api } from '../helpers/client.ts';
import { jobsApp } from '../helpers/jobs-app.ts';
import { type Recorded, upstream } from '../helpers/upstream.ts';

/** When each `step` job started and ended, in this process. */
const runs: Array<{ key: string; n: number; start: number; end: number }> = [];
const step = defineHandler({
  type: 'step',
  input: z.object({ key: z.string(), n: z.number(), ms: z.number() }),
  defaultTimeoutSeconds: 30,
  run: async (input) => {
    const start = performance.now();
    await sleep(input.ms);
    runs.push({ key: input.key, n: input.n, start, end: performance.now() });
    return input;
  },
});

const app = await jobsApp(
  t,
  { DELIVERY_RETRY_SCHEDULE: '150ms,150ms,150ms,150ms', WORKER_CONCURRENCY: '8' },
  { handlers: [step] },
);

interface Message {
  id: string;
  status: string;
  orderingKey: string | null;
  waiting: boolean;
  nextAttemptAt: string | null;
  [key: string]: unknown;
}

const metadataOf = (request: Recorded) =>
  (JSON.parse(request.body) as { data: { metadata: { key: string; n: number } } }).data.metadata;

async function endpoint(api: Api, url: string): Promise<string> {
  const { body } = await api('POST', '/v1/endpoints', { url, eventTypes: ['job.succeeded'] });
  return body.id as string;
}

async function submit(api: Api, body: Record<string, unknown>): Promise<string> {
  const response = await api('POST', '/v1/jobs', body);
  if (response.status !== 202) throw new Error(`submission answered ${response.status}`);
  return response.body.id as string;
}

t.test('jobs of a key run one at a time in submission order; other keys run beside them', async (t) => {
  const tenant = await app.tenant('jobs-in-order');
  runs.length = 0;
  const ids: string[] = [];
  for (let n = 0; n < 5; n += 1) {
    // Later jobs of key a carry a higher priority: within a key, priority does not reorder.
    ids.push(
      await submit(tenant.api, {
        type: 'step',
        input: { key: 'a', n, ms: 120 },
        orderingKey: 'order 42',
        priority: n * 10,
      }),
    );
  }
  for (let n = 0; n < 3; n += 1)
    ids.push(await submit(tenant.api, { type: 'step', input: { key: 'b', n, ms: 120 }, orderingKey: 'b' }));
  for (const id of ids) t.equal((await app.finished(tenant.api, id)).status, 'succeeded');
  const a = runs.filter((run) => run.key === 'a');
  t.same(
    a.map((run) => run.n),
    [0, 1, 2, 3, 4],
    'key a ran in submission order',
  );
  for (let i = 1; i < a.length; i += 1)
    t.ok((a[i]?.start ?? 0) >= (a[i - 1]?.end ?? 0), `a#${i} started after a#${i - 1} ended`);
  const b = runs.filter((run) => run.key === 'b');
  t.ok(
    b.some((run) => a.some((other) => run.start < other.end && other.start < run.end)),
    'key b ran while key a did',
  );
  const job = (await tenant.api('GET', `/v1/jobs/${ids[0]}`)).body;
  t.equal(job.orderingKey, 'order 42', 'the job shows its key');
  const listed = (await tenant.api<{ data: unknown[] }>('GET', '/v1/jobs?orderingKey=b')).body.data;
  t.equal(listed.length, 3, 'jobs are listed by key');
});

t.test('a cancelled head releases the next job of its key', async (t) => {
  const tenant = await app.tenant('cancel-head');
  const first = await submit(tenant.api, {
    type: 'step',
    input: { key: 'c', n: 0, ms: 10 },
    orderingKey: 'c',
    runAt: new Date(Date.now() + 3_600_000).toISOString(),
  });
  const second = await submit(tenant.api, {
    type: 'step',
    input: { key: 'c', n: 1, ms: 10 },
    orderingKey: 'c',
  });
  await sleep(300);
  t.match(
    (await tenant.api('GET', `/v1/jobs/${second}`)).body,
    { status: 'queued', waiting: true },
    'waits for the first',
  );
  t.match(
    (await tenant.api('GET', `/v1/jobs/${first}`)).body,
    { status: 'queued', waiting: false },
    'the head',
  );
  await tenant.api('POST', `/v1/jobs/${first}/cancel`);
  t.equal((await app.finished(tenant.api, second)).status, 'succeeded', 'runs once the first is cancelled');
});

t.test('a key whose head keeps failing holds up only that key, and resumes in order', async (t) => {
  const tenant = await app.tenant('messages-in-order');
  let recovered = false;
  const arrivals: Array<{ key: string; n: number }> = [];
  const receiver = upstream(t, (request) => {
    const { key, n } = metadataOf(request);
    if (key === 'stuck' && !recovered) return { status: 503 };
    arrivals.push({ key, n });
    return { status: 200, delayMs: 5 };
  });
  const hook = await receiver;
  const endpointId = await endpoint(tenant.api, `${hook.url}/hook`);
  const jobs: string[] = [];
  for (let n = 0; n < 4; n += 1) {
    for (const key of ['stuck', 'k1', 'k2']) {
      jobs.push(
        await submit(tenant.api, {
          type: 'echo',
          input: n,
          endpointId,
          orderingKey: key,
          metadata: { key, n },
        }),
      );
    }
  }
  for (let n = 0; n < 4; n += 1)
    jobs.push(await submit(tenant.api, { type: 'echo', input: n, endpointId, metadata: { key: 'none', n } }));
  await waitFor(
    'the other keys and unkeyed messages to arrive',
    async () => (arrivals.length >= 12 ? true : undefined),
    20_000,
  );
  t.notOk(
    arrivals.some((a) => a.key === 'stuck'),
    'nothing of the stuck key arrived',
  );
  const queue = (
    await tenant.api<{ data: Message[] }>('GET', '/v1/messages?orderingKey=stuck&status=pending')
  ).body.data;
  t.equal(queue.length, 4, "the stuck key's queue lists its four messages");
  t.equal(queue.filter((m) => m.waiting).length, 3, 'three of them wait behind the head');
  t.ok(
    queue.every((m) => m.orderingKey === 'stuck'),
    'messages show their key',
  );
  const blocked = (
    await tenant.api<{
      data: Array<{ orderingKey: string; pending: number; head: Record<string, unknown> }>;
    }>('GET', `/v1/endpoints/${endpointId}/ordering-keys`)
  ).body.data;
  t.equal(blocked.length, 1, 'one key is blocked on the endpoint');
  t.match(blocked[0], {
    orderingKey: 'stuck',
    pending: 4,
    head: { lastResponseStatus: 503, lastError: /503/, messageId: /^msg_/ },
  });
  const other = await app.tenant('someone-else');
  t.equal(
    (await other.api('GET', `/v1/endpoints/${endpointId}/ordering-keys`)).status,
    404,
    "another tenant's endpoint is not found",
  );
  recovered = true;
  await waitFor('the stuck key to drain', async () => (arrivals.length >= 16 ? true : undefined), 20_000);
  for (const key of ['stuck', 'k1', 'k2'])
    t.same(
      arrivals.filter((a) => a.key === key).map((a) => a.n),
      [0, 1, 2, 3],
      `key ${key} arrived in order`,
    );
});

t.test('a dead-lettered head releases the next; a replay goes to the back of its key', async (t) => {
  const tenant = await app.tenant('dead-head');
  const arrivals: number[] = [];
  let refuse = true;
  const hook = await upstream(t, (request) => {
    const { n } = metadataOf(request);
    if (n === 0 && refuse) return { status: 500 };
    arrivals.push(n);
    // The later ones are slow, so that the replay joins a queue still busy.
    return { status: 200, delayMs: 100 };
  });
  const endpointId = await endpoint(tenant.api, `${hook.url}/hook`);
  for (let n = 0; n < 3; n += 1)
    await submit(tenant.api, {
      type: 'echo',
      input: n,
      endpointId,
      orderingKey: 'dl',
      metadata: { key: 'dl', n },
    });
  const letter = await waitFor(
    'the head to be dead-lettered',
    async () => {
      const { data } = (await tenant.api<{ data: Array<{ id: string }> }>('GET', '/v1/dead-letters')).body;
      return data[0];
    },
    20_000,
  );
  refuse = false;
  t.equal((await tenant.api('POST', `/v1/dead-letters/${letter.id}/replay`)).status, 202);
  // A fourth message of the key, after the replay: the replayed head is before it.
  await submit(tenant.api, {
    type: 'echo',
    input: 3,
    endpointId,
    orderingKey: 'dl',
    metadata: { key: 'dl', n: 3 },
  });
  await waitFor('all four to arrive', async () => (arrivals.length >= 4 ? true : undefined), 20_000);
  t.same(arrivals, [1, 2, 0, 3], 'the others went on; the replay went to the back, before the later one');
});

t.test('under concurrent submissions and batched endings: no key stranded, never two at once', async (t) => {
  const tenant = await app.tenant('busy-keys');
  const hook = await upstream(t, () => ({ status: 200 }));
  const endpointId = await endpoint(tenant.api, `${hook.url}/hook`);
  const KEYS = 12;
  const JOBS = 360;
  let next = 0;
  // Twenty clients at once: submissions of a key land in one intake batch, and jobs end in batches.
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next < JOBS) {
        const n = next++;
        await submit(tenant.api, {
          type: 'echo',
          input: n,
          endpointId,
          orderingKey: `k${n % KEYS}`,
          metadata: { key: `k${n % KEYS}`, n },
        });
      }
    }),
  );
  await waitFor(
    'every message delivered',
    async () => {
      const { rows } = await app.ctx.pool.query(
        "select count(*)::int as n from messages where tenant_id = $1 and status = 'delivered'",
        [tenant.id],
      );
      return rows[0].n === JOBS ? true : undefined;
    },
    60_000,
  );
  const overlaps = await app.ctx.pool.query(
    `select a.id from jobs a join jobs b on b.tenant_id = a.tenant_id and b.ordering_key = a.ordering_key
                                         and b.ordering_seq > a.ordering_seq
      where a.tenant_id = $1 and b.started_at < a.completed_at`,
    [tenant.id],
  );
  t.equal(overlaps.rowCount, 0, 'no job started before the one before it in its key had ended');
  const early = await app.ctx.pool.query(
    `select a.id from messages a join messages b on b.receiver = a.receiver and b.ordering_key = a.ordering_key
                                                 and b.ordering_seq > a.ordering_seq
      where a.tenant_id = $1
        and (select min(attempted_at) from attempts where message_id = b.id) < a.delivered_at`,
    [tenant.id],
  );
  t.equal(early.rowCount, 0, 'no message was attempted before the one before it in its key was delivered');
});

t.test('orderingKey is 1-128 printable characters', async (t) => {
  const tenant = await app.tenant('bad-keys');
  for (const key of ['', 'x'.repeat(129), 'tab\there', ' leading', 'trailing ', 'é', 'nul\u0000', 42]) {
    const response = await tenant.api('POST', '/v1/jobs', { type: 'echo', input: 1, orderingKey: key });
    t.equal(response.status, 400, `refused: ${JSON.stringify(key)}`);
  }
  t.equal(
    (await tenant.api('POST', '/v1/jobs', { type: 'echo', input: 1, orderingKey: 'x'.repeat(128) })).status,
    202,
  );
  t.equal((await tenant.api('GET', `/v1/messages?orderingKey=${'x'.repeat(129)}`)).status, 400);
});
