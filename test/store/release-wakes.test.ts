// How a key's next message is released, against a real Postgres: the dispatcher's batched record of deliveries
// leases it to the recorder, with no NOTIFY (migrations 0015, 0017), and given back unsent it keeps its place
// until an attempt of it is recorded; an attempt that ends a message any other way releases the next through the
// trigger and notifies (another process may be the one to claim it).
import pg from 'pg';
import t from 'tap';
import { deliveryQueue, updateMessage } from '../../src/store/delivery-queue.ts';
import { jobsApp } from '../helpers/jobs-app.ts';
import { addMessage, delivered } from '../helpers/queue-entries.ts';

const app = await jobsApp(t, {}, { workers: false });
const tenant = await app.tenant('release-wakes');
const db = app.ctx.pool;
/** A dispatcher's claim of everything due, whatever the receiver. */
const claimAll = () =>
  deliveryQueue.claim(db, { limit: 100, leaseMs: 60_000, rooms: new Map(), room: 100, cursor: '' });

const listener = new pg.Client({ connectionString: app.ctx.config.databaseUrl });
await listener.connect();
t.teardown(() => listener.end());
const heard: string[] = [];
listener.on('notification', (n) => heard.push(n.payload ?? ''));
await listener.query('listen hookrelay_deliveries');

/** Two messages of one key to its own receiver, the head claimed: the head's lease and the next one's id. */
async function keyedPair(key: string) {
  const receiver = `http://127.0.0.1:9/${key}`;
  const ids = [
    await addMessage(db, tenant.id, receiver, key),
    await addMessage(db, tenant.id, receiver, key),
  ];
  const claimed = await claimAll();
  const head = claimed.find((m) => m.id === ids[0]);
  if (!head || claimed.some((m) => m.id === ids[1])) throw new Error('expected the head claimed alone');
  return { receiver, head, next: ids[1] as string };
}

const dueAt = async (id: string) =>
  (
    await db.query<{ next_attempt_at: Date | null }>('select next_attempt_at from messages where id = $1', [
      id,
    ])
  ).rows[0]?.next_attempt_at;
/** What the listener hears for `receiver` once the notifications sent so far have arrived. */
async function heardFor(receiver: string) {
  await db.query(`select pg_notify('hookrelay_deliveries', 'marker')`);
  const until = Date.now() + 5_000;
  while (!heard.includes('marker') && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  const found = heard.filter((payload) => payload === receiver).length;
  heard.length = 0;
  return found;
}

t.test(
  'the batched record of deliveries leases the next message to the recorder, without a NOTIFY',
  async (t) => {
    const { receiver, head, next } = await keyedPair('recorded');
    await heardFor(receiver);
    t.equal(await dueAt(next), null, 'the next waits while the head is pending');
    const { recorded, released } = await deliveryQueue.settle(
      db,
      [delivered(head.id, head.lease_id, true)],
      60_000,
    );
    t.ok(recorded.has(head.id), 'the delivery is recorded');
    t.same(
      released.map((m) => m.id),
      [next],
      'the next is released to the recorder',
    );
    const { rows } = await db.query<{ leased: boolean; lease_id: string; lease_left: number }>(
      `select leased, lease_id, extract(epoch from next_attempt_at - now()) as lease_left from messages where id = $1`,
      [next],
    );
    t.equal(rows[0]?.leased, true, 'leased');
    t.equal(rows[0]?.lease_id, released[0]?.lease_id, 'under the lease returned');
    t.ok(Number(rows[0]?.lease_left) > 50, 'for the lease given');
    t.equal(await heardFor(receiver), 0, 'no NOTIFY for its receiver');
    // Given back unsent (its dispatcher stopping): due from when it joined its key, not from now.
    const { rows: joined } = await db.query<{ joined: Date }>(
      'select created_at as joined from messages where id = $1',
      [next],
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    t.ok(await deliveryQueue.release(db, { id: next, leaseId: released[0]?.lease_id ?? '' }), 'given back');
    t.same(await dueAt(next), joined[0]?.joined, 'due from when it joined, keeping its place');
  },
);

t.test(
  'once an attempt of a released message is recorded, giving it back no longer uses when it joined',
  async (t) => {
    const { head, next } = await keyedPair('attempted');
    const { released } = await deliveryQueue.settle(db, [delivered(head.id, head.lease_id, true)], 60_000);
    t.same(
      released.map((m) => m.id),
      [next],
      'released to the recorder',
    );
    // Its attempt fails and is retried at once; a claim takes it again, and its dispatcher gives it back.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const failedAt = new Date();
    await updateMessage(db, next, {
      status: 'pending',
      attemptsDelta: 1,
      lastError: 'HTTP 500',
      lastResponseStatus: 500,
      nextAttemptAt: failedAt,
    });
    const claimed = await claimAll();
    const again = claimed.find((m) => m.id === next);
    if (!again) throw new Error('expected the retry claimed');
    t.ok(await deliveryQueue.release(db, { id: next, leaseId: again.lease_id }), 'given back');
    const due = await dueAt(next);
    t.ok(due && due.getTime() >= failedAt.getTime() - 5, 'due now, not from when it first joined its key');
  },
);

t.test('a head dead-lettered by its last attempt releases the next with a NOTIFY', async (t) => {
  const { receiver, head, next } = await keyedPair('dead');
  await heardFor(receiver);
  await updateMessage(db, head.id, {
    status: 'dead',
    attemptsDelta: 1,
    lastError: 'receiver answered 500',
    lastResponseStatus: 500,
    nextAttemptAt: null,
  });
  t.ok(await dueAt(next), 'the next is due');
  t.equal(await heardFor(receiver), 1, 'one NOTIFY for its receiver');
});
