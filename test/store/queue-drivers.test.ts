// One contract, both queue drivers (src/queue/driver.ts): job attempts and deliveries, against a real Postgres.
// A claim leases due entries that no other claim then takes; a renewal says which leases are still held; a
// lease that ran out and was claimed again is lost to its first holder, whose records then change nothing; a
// release gives an entry back due at once with its attempt not counted. An entry released from behind its
// ordering key's head keeps its place in line (migration 0016).
import t from 'tap';
import type { Lease, QueueDriver } from '../../src/queue/driver.ts';
import { deliveryQueue, type Recorded, updateMessage } from '../../src/store/delivery-queue.ts';
import { jobQueue } from '../../src/store/job-queue.ts';
import { insertJob } from '../../src/store/jobs.ts';
import { jobsApp } from '../helpers/jobs-app.ts';
import { addMessage, delivered, jobSpec } from '../helpers/queue-entries.ts';

const app = await jobsApp(t, {}, { workers: false });
const tenant = await app.tenant('drivers');
const db = app.ctx.pool;
const LEASE_MS = 60_000;

interface Entry {
  id: string;
  lease_id: string;
}

/** A driver, how to add one due entry to its table, and what records one entry's success. */
interface Case {
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: each case has its own claim options and records
  driver: QueueDriver<Entry, any, any, unknown>;
  claimOptions: Record<string, unknown>;
  add(): Promise<string>;
  success(lease: Lease): unknown;
  /** Whether a settle answered that this entry's success was recorded. */
  recorded(settled: unknown, id: string): boolean;
}

const addJob = (tenantId: string, orderingKey: string | null) =>
  insertJob(db, jobSpec(tenantId, orderingKey));

const cases: Case[] = [
  {
    name: 'jobs',
    driver: jobQueue,
    claimOptions: {},
    add: async () => (await addJob(tenant.id, null)).id,
    success: ({ id, leaseId }) => ({ id, leaseId, result: 1 }),
    recorded: (settled, id) => (settled as Array<{ id: string }>).some((row) => row.id === id),
  },
  {
    name: 'deliveries',
    driver: deliveryQueue,
    claimOptions: { rooms: new Map(), room: 100, cursor: '' },
    add: () => addMessage(db, tenant.id, 'http://127.0.0.1:9'),
    success: ({ id, leaseId }) => delivered(id, leaseId),
    recorded: (settled, id) => (settled as Recorded).recorded.has(id),
  },
];

for (const c of cases) {
  const { driver } = c;
  const table = driver.table;
  const claim = (limit = 100) => driver.claim(db, { ...c.claimOptions, limit, leaseMs: LEASE_MS });
  const attempts = async (id: string) =>
    (await db.query<{ attempts: number }>(`select attempts from ${table} where id = $1`, [id])).rows[0]
      ?.attempts;
  /** As if the lease ran out: due again now. */
  const expire = (id: string) =>
    db.query(`update ${table} set next_attempt_at = now() - interval '1 second' where id = $1`, [id]);
  const lease = (entry: Entry): Lease => ({ id: entry.id, leaseId: entry.lease_id });

  t.test(`${c.name}: a claim leases due entries, which the next claim does not take`, async (t) => {
    const ids = [await c.add(), await c.add()];
    const claimed = await claim();
    t.same(claimed.map((e) => e.id).sort(), [...ids].sort(), 'both claimed');
    t.ok(
      claimed.every((e) => typeof e.lease_id === 'string'),
      'each with a lease',
    );
    t.same(await claim(), [], 'a second claim finds nothing due');
    for (const entry of claimed)
      t.ok(c.recorded(await driver.settle(db, [c.success(lease(entry))], LEASE_MS), entry.id));
  });

  t.test(`${c.name}: renewals and records hold only under the current lease`, async (t) => {
    const id = await c.add();
    const [first] = await claim();
    if (!first) throw new Error('nothing claimed');
    const renewed = await driver.renew(db, [lease(first)], LEASE_MS, 5_000);
    t.ok(renewed.held.has(first.lease_id), 'the holder renews it');
    await expire(id);
    const [second] = await claim();
    t.equal(second?.id, id, 'a lease that ran out is claimed again');
    t.not(second?.lease_id, first.lease_id, 'under a new lease');
    if (!second) return;
    const stale = await driver.renew(db, [lease(first)], LEASE_MS, 5_000);
    t.notOk(stale.held.has(first.lease_id) || stale.settled.has(first.lease_id), 'the first holder lost it');
    t.notOk(
      c.recorded(await driver.settle(db, [c.success(lease(first))], LEASE_MS), id),
      'its record changes nothing',
    );
    t.notOk(await driver.release(db, lease(first)), 'nor can it give the entry back');
    t.ok(
      c.recorded(await driver.settle(db, [c.success(lease(second))], LEASE_MS), id),
      'the new holder records it',
    );
    const after = await driver.renew(db, [lease(second)], LEASE_MS, 5_000);
    t.ok(after.settled.has(second.lease_id), 'a renewal after the record says it was settled');
    t.notOk(await driver.release(db, lease(second)), 'and a settled entry cannot be given back');
  });

  t.test(`${c.name}: a release gives the entry back, due at once, its attempt not counted`, async (t) => {
    const id = await c.add();
    const before = await attempts(id);
    const [claimed] = await claim();
    if (!claimed) throw new Error('nothing claimed');
    t.ok(await driver.release(db, lease(claimed)), 'released by its holder');
    t.equal(await attempts(id), before, 'no attempt counted');
    const [again] = await claim();
    t.equal(again?.id, id, 'claimed again at once');
    if (again) t.ok(c.recorded(await driver.settle(db, [c.success(lease(again))], LEASE_MS), id));
  });
}

t.test(
  'deliveries: a message whose retry was recorded is no longer held, so it cannot be given back',
  async (t) => {
    const id = await cases[1]?.add();
    if (!id) throw new Error('no message added');
    const [claimed] = await deliveryQueue.claim(db, {
      rooms: new Map(),
      room: 100,
      cursor: '',
      limit: 100,
      leaseMs: LEASE_MS,
    });
    if (!claimed) throw new Error('nothing claimed');
    // The attempt failed and its retry was recorded: pending, due in an hour, the same lease id, not leased.
    const inAnHour = new Date(Date.now() + 3_600_000);
    await updateMessage(db, id, {
      status: 'pending',
      attemptsDelta: 1,
      lastError: 'HTTP 503',
      lastResponseStatus: 503,
      nextAttemptAt: inAnHour,
    });
    t.notOk(await deliveryQueue.release(db, { id, leaseId: claimed.lease_id }), 'not given back');
    const { rows } = await db.query<{ at: Date }>(
      'select next_attempt_at as at from messages where id = $1',
      [id],
    );
    t.equal(rows[0]?.at.getTime(), inAnHour.getTime(), 'its retry keeps its backoff');
  },
);

/** Claims one entry of the given driver. */
const claimOne = (driver: 'jobs' | 'deliveries') =>
  driver === 'jobs'
    ? jobQueue.claim(db, { limit: 1, leaseMs: LEASE_MS })
    : deliveryQueue.claim(db, { rooms: new Map(), room: 100, cursor: '', limit: 1, leaseMs: LEASE_MS });

t.test('a job released from behind its key is due from its submission, not its release', async (t) => {
  const keyed = await app.tenant('keeps-place-jobs');
  const job = (orderingKey: string | null) => addJob(keyed.id, orderingKey);
  const head = await job('k');
  const behind = await job('k');
  await new Promise((resolve) => setTimeout(resolve, 20));
  const later = await job(null);
  const [claimed] = await claimOne('jobs');
  t.equal(claimed?.id, head.id, "the key's head first");
  if (!claimed) return;
  await jobQueue.settle(db, [{ id: claimed.id, leaseId: claimed.lease_id, result: 1 }], LEASE_MS);
  const [next] = await claimOne('jobs');
  t.equal(next?.id, behind.id, 'the one it released before the job submitted after it');
  const [last] = await claimOne('jobs');
  t.equal(last?.id, later.id);
  for (const entry of [next, last])
    if (entry) await jobQueue.settle(db, [{ id: entry.id, leaseId: entry.lease_id, result: 1 }], LEASE_MS);
});

// Released by the trigger: an attempt recorded on its own (the batched record of deliveries leases the next message
// to the recorder instead: test/store/release-wakes.test.ts).
t.test('a message released from behind its key is due from when it joined, not its release', async (t) => {
  const receiver = 'http://127.0.0.1:9/keeps-place';
  const message = (orderingKey: string | null) => addMessage(db, tenant.id, receiver, orderingKey);
  const delivered = (entry: Entry) =>
    updateMessage(db, entry.id, {
      status: 'delivered',
      attemptsDelta: 1,
      lastError: null,
      lastResponseStatus: 200,
      nextAttemptAt: null,
    });
  const head = await message('k');
  const behind = await message('k');
  await new Promise((resolve) => setTimeout(resolve, 20));
  const later = await message(null);
  const [claimed] = await claimOne('deliveries');
  t.equal(claimed?.id, head, "the key's head first");
  if (!claimed) return;
  await delivered(claimed);
  const [next] = await claimOne('deliveries');
  t.equal(next?.id, behind, 'the one it released before the message written after it');
  const [last] = await claimOne('deliveries');
  t.equal(last?.id, later);
  for (const entry of [next, last]) if (entry) await delivered(entry);
});
