// Races of a key's queue against a real Postgres, in two transactions stepped by hand: a waiting job or message
// that ends (cancelled, dead-lettered) while its key's head ends must not leave the key with no head
// (migration 0016's release loop). The head's release finds the waiting one, waits for the transaction ending it,
// and must then release the next.
import pg from 'pg';
import t from 'tap';
import { insertJob, insertJobs } from '../../src/store/jobs.ts';
import { jobsApp } from '../helpers/jobs-app.ts';
import { addMessage, jobSpec } from '../helpers/queue-entries.ts';

const app = await jobsApp(t, {}, { workers: false });
const tenant = await app.tenant('ordering-races');
const db = app.ctx.pool;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Two connections of their own, each to hold a transaction open. */
async function connections() {
  const pair = [
    new pg.Client({ connectionString: app.ctx.config.databaseUrl }),
    new pg.Client({ connectionString: app.ctx.config.databaseUrl }),
  ] as const;
  for (const c of pair) await c.connect();
  t.teardown(() => Promise.all(pair.map((c) => c.end())));
  return pair;
}

/**
 * `endWaiting` ends the key's first waiting entry in one transaction, left open; meanwhile `endHead` ends the head
 * in another, whose release then waits for the first. The first commits, then the second.
 */
async function race(
  endWaiting: (c: pg.Client) => Promise<unknown>,
  endHead: (c: pg.Client) => Promise<unknown>,
) {
  const [waiting, head] = await connections();
  await waiting.query('begin');
  await endWaiting(waiting);
  await head.query('begin');
  const ending = endHead(head);
  // Long enough for the head's release to reach the row the first transaction holds.
  await sleep(300);
  await waiting.query('commit');
  await ending;
  await head.query('commit');
}

t.test('a waiting job cancelled while its key head ends: the next job is released', async (t) => {
  const job = () => insertJob(db, jobSpec(tenant.id, 'race-jobs'));
  const [head, first, second] = [await job(), await job(), await job()];
  t.equal(first.next_attempt_at, null, 'the second job of the key waits');
  await race(
    (c) =>
      c.query(
        "update jobs set status = 'cancelled', completed_at = now(), next_attempt_at = null where id = $1",
        [first.id],
      ),
    (c) =>
      c.query(
        "update jobs set status = 'succeeded', completed_at = now(), next_attempt_at = null where id = $1",
        [head.id],
      ),
  );
  const { rows } = await db.query<{ status: string; due: boolean }>(
    'select status, next_attempt_at is not null as due from jobs where id = $1',
    [second.id],
  );
  t.same(rows[0], { status: 'queued', due: true }, 'the third job is the head now');
});

t.test('a waiting message dead-lettered while its key head is delivered: the next is released', async (t) => {
  const receiver = 'http://127.0.0.1:9/races';
  const message = () => addMessage(db, tenant.id, receiver, 'race-messages');
  const [head, first, second] = [await message(), await message(), await message()];
  await race(
    (c) => c.query("update messages set status = 'dead', next_attempt_at = null where id = $1", [first]),
    (c) =>
      c.query(
        "update messages set status = 'delivered', delivered_at = now(), next_attempt_at = null where id = $1",
        [head],
      ),
  );
  const { rows } = await db.query<{ status: string; due: boolean }>(
    'select status, next_attempt_at is not null as due from messages where id = $1',
    [second],
  );
  t.same(rows[0], { status: 'pending', due: true }, 'the third message is the head now');
});

t.test(
  "a writer that waited for one key's head locks the head another key gained meanwhile: no newcomer is stranded",
  async (t) => {
    const spec = (orderingKey: string) => jobSpec(tenant.id, orderingKey);
    const end = (c: pg.Client | typeof db, id: string) =>
      c.query(
        "update jobs set status = 'succeeded', completed_at = now(), next_attempt_at = null where id = $1",
        [id],
      );
    const headA = await insertJob(db, spec('race-a'));
    const headB = await insertJob(db, spec('race-b'));
    const successorB = await insertJob(db, spec('race-b'));
    const [endingA, writer] = await connections();
    const [endingSuccessor] = await connections();
    // A's head is ending, uncommitted: the writer of a job of A and one of B waits for it.
    await endingA.query('begin');
    await endingA.query('select 1 from jobs where id = $1 for update', [headA.id]);
    await writer.query('begin');
    const newcomers = [spec('race-a'), spec('race-b')];
    const writing = insertJobs(writer, newcomers);
    await sleep(300);
    // Meanwhile B's head ends (releasing its successor), and the successor starts ending, uncommitted: its
    // release runs now, before the newcomer of B is written.
    await end(db, headB.id);
    await endingSuccessor.query('begin');
    await end(endingSuccessor, successorB.id);
    await endingA.query('commit');
    await sleep(300);
    await endingSuccessor.query('commit');
    await writing;
    await writer.query('commit');
    const { rows } = await db.query<{ status: string; due: boolean }>(
      'select status, next_attempt_at is not null as due from jobs where id = $1',
      [newcomers[1]?.id],
    );
    t.same(rows[0], { status: 'queued', due: true }, "B's newcomer is its head");
  },
);
