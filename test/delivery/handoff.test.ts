// A job's messages handed straight to the dispatcher of the process that ended it: written leased to it, so
// no other dispatcher claims them, started in memory after the commit, and only as many as it has room for.
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { startDispatcher } from '../../src/delivery/dispatcher.ts';
import { fanOutMany } from '../../src/delivery/fan-out.ts';
import { claimDue } from '../../src/store/delivery-queue.ts';
import { withTransaction } from '../../src/store/transaction.ts';
import { jobsApp } from '../helpers/jobs-app.ts';
import { upstream } from '../helpers/upstream.ts';

const app = await jobsApp(t, { DELIVERY_ENDPOINT_CONCURRENCY: '3' }, { workers: false });
const dispatcher = startDispatcher(app.ctx);
t.teardown(() => dispatcher.stop(Date.now() + 1_000));
const receiver = await upstream(t, () => ({ status: 200 }));
const tenant = await app.tenant('handoff');
const endpoint = (
  await tenant.api<{ id: string; url: string }>('POST', '/v1/endpoints', { url: `${receiver.url}/h` })
).body;
const tenantId = tenant.id;
const event = (n: number) => ({
  event: { tenantId, jobId: null, type: 'job.succeeded', data: { n } },
  to: { kind: 'endpoint' as const, endpoint },
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('leased at the insert, delivered only after the hand-over', async (t) => {
  const handoff = dispatcher.handoff();
  const started = Date.now();
  const written = await withTransaction(app.ctx.pool, (tx) => fanOutMany(tx, [event(1)], handoff));
  t.equal(written.leased.length, 1, 'written leased');
  const [row] = written.leased;
  t.equal(row?.id, written.ids[0]);
  t.ok((row?.next_attempt_at?.getTime() ?? 0) > started + 20_000, 'due only when the lease runs out');
  const others = await claimDue(app.ctx.pool, {
    limit: 10,
    leaseMs: 30_000,
    rooms: new Map(),
    room: 10,
    cursor: '',
  });
  t.same(others, [], 'another dispatcher finds nothing to claim');
  await sleep(1_200); // two of the dispatcher's own polls
  t.equal(receiver.requests.length, 0, 'nothing is sent before the hand-over');
  handoff.adopt(written.leased);
  await waitFor('the handed-over message to go out', () => receiver.requests.length > 0, 20_000, 20);
  t.equal(receiver.requests[0]?.headers['webhook-id'], row?.id, 'then it goes out at once, under its id');
  // Its slot frees once the attempt is recorded: the next test counts the receiver's share from zero.
  const status = async () =>
    (await app.ctx.pool.query('select status from messages where id = $1', [row?.id])).rows[0]?.status;
  await waitFor('the message to be recorded delivered', async () => (await status()) === 'delivered');
  await sleep(50);
});

t.test('a hand-over takes only what can start now, and a cancelled one gives its slots back', async (t) => {
  const first = dispatcher.handoff();
  const taken = [1, 2, 3, 4].map(() => first.reserve(endpoint.id));
  t.same(taken, [true, true, true, false], "up to the receiver's share (3)");
  t.equal(dispatcher.handoff().reserve(endpoint.id), false, 'promised slots count for other hand-overs too');
  t.equal(dispatcher.handoff().reserve('https://elsewhere.example'), true, 'another receiver has room');
  first.cancel();
  const again = dispatcher.handoff();
  t.equal(again.reserve(endpoint.id), true, 'a cancelled hand-over gives its slots back');
  again.cancel();

  // Beyond the share, messages are written due, for any dispatcher's claim.
  const before = receiver.requests.length;
  const handoff = dispatcher.handoff();
  const written = await withTransaction(app.ctx.pool, (tx) =>
    fanOutMany(tx, [5, 6, 7, 8, 9].map(event), handoff),
  );
  t.equal(written.leased.length, 3, 'three handed over');
  handoff.adopt(written.leased);
  await waitFor('all five messages to go out', () => receiver.requests.length >= before + 5);
  t.equal(receiver.requests.length, before + 5, 'all five delivered, two of them through claims');
});
