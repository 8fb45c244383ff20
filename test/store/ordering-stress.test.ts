// Keyed messages under concurrency against a real Postgres, at random for a few seconds: writers of keyed
// messages (insertMessages), dispatchers that claim, record deliveries in batches (recordDelivered) and take the
// successors those records lease them, drains dead-lettering pending messages, and resends (restartMessages).
// No statement may fail: a record of deliveries and a keyed writer deadlocked when the record locked its rows in
// the order a plan made on the small table read them, not in id order as the writers lock heads. In every
// snapshot each key (tenant, receiver, ordering key) with pending messages has one head, and each key's
// deliveries are recorded in ordering_seq order. ORDERING_STRESS_MS lengthens the run (10 s by default; tap's
// --timeout too, past two minutes).
import pg from 'pg';
import t from 'tap';
import { newId } from '../../src/ids.ts';
import { deadLetterPending } from '../../src/store/dead-letters.ts';
import { claimDue, recordDelivered } from '../../src/store/delivery-queue.ts';
import { insertMessages, type MessageRow, restartMessages } from '../../src/store/messages.ts';
import { jobsApp } from '../helpers/jobs-app.ts';
import { delivered, messageSpec } from '../helpers/queue-entries.ts';

const DURATION_MS = Number(process.env.ORDERING_STRESS_MS ?? 10_000);
// Few keys and two receivers: writers, records and drains meet on the same heads all the time.
const KEYS = 12;
const RECEIVERS = ['http://127.0.0.1:9/s1', 'http://127.0.0.1:9/s2'];
// Longer than the run: a message held unrecorded stays its dispatcher's.
const LEASE_MS = 60_000;

const app = await jobsApp(t, {}, { workers: false });
const tenant = await app.tenant('ordering-stress');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const rand = (n: number) => Math.floor(Math.random() * n);
const pick = <T>(items: readonly T[]) => items[rand(items.length)] as T;

const until = Date.now() + DURATION_MS;
/** Every error any actor met, with the actor's name. */
const errors: string[] = [];
/** Keys found with no head or more than one, as the snapshot saw them. */
const violations: string[] = [];
/** Each key's deliveries as recorded (receiver and key: ordering_seq of each, in the order the records committed). */
const deliveredSeqs = new Map<string, number[]>();
let records = 0;
let released = 0;

/** Where the message stands in its key's queue: in the row (m.*), but not in MessageRow, since no code reads it. */
const seqOf = (m: MessageRow) => Number((m as MessageRow & { ordering_seq: string }).ordering_seq);

/** A connection of its own, as each process of the service has: its statements' plans are its own. */
async function connection() {
  const client = new pg.Client({ connectionString: app.ctx.config.databaseUrl });
  await client.connect();
  t.teardown(() => client.end());
  return client;
}

/** Runs `step` until the time is up; an error fails the test at the end, and the actor goes on. */
async function repeat(actor: string, step: () => Promise<unknown>, end = until) {
  while (Date.now() < end) {
    try {
      await step();
    } catch (error) {
      errors.push(`${actor}: ${(error as Error).message}`);
      await sleep(10);
    }
  }
}

/**
 * Writes batches of one to six messages, each to a random key: a batch of several keys locks several heads, in id
 * order, and the more it locks the likelier it meets a record locking the same heads in another order.
 */
async function writer(name: string) {
  const db = await connection();
  await repeat(name, async () => {
    const batch = Array.from({ length: 1 + rand(6) }, () =>
      messageSpec(tenant.id, pick(RECEIVERS), `k${rand(KEYS)}`),
    );
    await insertMessages(db, batch, 0);
    await sleep(rand(5));
  });
}

/**
 * Claims as a dispatcher does and "sends" at random: part of what it holds is recorded delivered in one batch,
 * the rest in a later one. The successors a record releases are leased to it, and held like the ones it claims.
 */
async function dispatcher(name: string) {
  const db = await connection();
  let held: MessageRow[] = [];
  await repeat(name, async () => {
    const claimed = await claimDue(db, {
      limit: 20,
      leaseMs: LEASE_MS,
      rooms: new Map(),
      room: 20,
      cursor: '',
    });
    // Leases outlast the run: a claim finding one still leased would count an attempt never lost.
    for (const m of claimed.filter((m) => m.lost)) errors.push(`${name}: ${m.id} claimed as lost`);
    held.push(...claimed);
    if (held.length === 0) return sleep(5);
    const sent = held.filter(() => Math.random() < 0.7);
    held = held.filter((m) => !sent.includes(m));
    if (sent.length === 0) return;
    // The attempts' time: others claim, write and record meanwhile.
    await sleep(rand(3));
    const done = await recordDelivered(
      db,
      sent.map((m) => delivered(m.id, m.lease_id, true)),
      LEASE_MS,
    );
    records++;
    // Refused ones (dead-lettered or resent meanwhile: their lease changed) were not delivered.
    for (const m of sent.filter((m) => done.recorded.has(m.id))) {
      const key = `${m.receiver} ${m.ordering_key}`;
      const seqs = deliveredSeqs.get(key) ?? [];
      deliveredSeqs.set(key, seqs);
      seqs.push(seqOf(m));
    }
    released += done.released.length;
    held.push(...done.released);
  });
}

/** Dead-letters pending messages, including ones dispatchers hold: each end releases the key's next message. */
async function drain() {
  const db = await connection();
  await repeat('drain', async () => {
    await sleep(20 + rand(30));
    if (Math.random() < 0.5) {
      // A closed endpoint's drain: the front of a receiver's queue, heads first, skipping rows being recorded.
      await deadLetterPending(db, pick(RECEIVERS), 'endpoint_disabled', [newId('dl'), newId('dl')]);
      return;
    }
    // One message anywhere in its key's queue, with the drain's update: a drain's batch reaches waiting
    // messages only past every head of its receiver, and a waiting message ending while its head ends is a race
    // of its own (migration 0016).
    await db.query(
      `update messages set status = 'dead', next_attempt_at = null, leased = false, lease_id = gen_random_uuid()
        where id = (select id from messages where status = 'pending' and tenant_id = $1 order by random() limit 1)
          and status = 'pending'`,
      [tenant.id],
    );
  });
}

/** Sends delivered and dead-lettered messages again: each joins the back of its key's queue. */
async function resender() {
  const db = await connection();
  await repeat('resender', async () => {
    await sleep(30 + rand(50));
    const { rows } = await db.query<{ id: string }>(
      `select id from messages where tenant_id = $1 and status in ('delivered', 'dead') order by random() limit 2`,
      [tenant.id],
    );
    await restartMessages(
      db,
      rows.map((r) => r.id),
    );
  });
}

/** Every 10 ms, and once the actors have stopped: the keys whose pending messages have no head or several. */
async function checker() {
  await repeat(
    'checker',
    async () => {
      // One statement, one snapshot: what committed transactions left.
      const { rows } = await app.ctx.pool.query<{
        receiver: string;
        key: string;
        heads: number;
        waiting: number;
      }>(
        `select receiver, ordering_key as key,
                count(*) filter (where next_attempt_at is not null)::int as heads,
                count(*) filter (where next_attempt_at is null)::int as waiting
           from messages where tenant_id = $1 and status = 'pending' and ordering_key is not null
          group by 1, 2
         having count(*) filter (where next_attempt_at is not null) <> 1`,
        [tenant.id],
      );
      for (const r of rows) violations.push(`${r.receiver} ${r.key}: ${r.heads} heads, ${r.waiting} waiting`);
      await sleep(10);
    },
    until + 200,
  );
}

t.test('keyed writers, batched records, drains and resends at random', async (t) => {
  await Promise.all([
    writer('writer 1'),
    writer('writer 2'),
    writer('writer 3'),
    dispatcher('dispatcher 1'),
    dispatcher('dispatcher 2'),
    dispatcher('dispatcher 3'),
    drain(),
    resender(),
    checker(),
  ]);
  t.same(
    errors.slice(0, 5),
    [],
    `no statement failed and no claim found a lease still held (${errors.length} errors; a deadlock is rows locked out of order)`,
  );
  t.same(
    violations.slice(0, 5),
    [],
    `every key with pending messages has one head (${violations.length} not)`,
  );
  const outOfOrder = [...deliveredSeqs].flatMap(([key, seqs]) => {
    const i = seqs.findIndex((seq, i) => i > 0 && seq < (seqs[i - 1] as number));
    return i < 0 ? [] : [`${key}: ${seqs[i]} recorded after ${seqs[i - 1]}`];
  });
  t.same(
    outOfOrder.slice(0, 3),
    [],
    `each key's deliveries are recorded in ordering_seq order (${deliveredSeqs.size} keys)`,
  );
  // The run went through what it is for: records of batches releasing successors to their recorder.
  t.ok(released > 0, `records released successors to their recorder (${released} in ${records} records)`);
});
