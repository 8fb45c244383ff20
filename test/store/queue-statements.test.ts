// The queue statements against a real Postgres in the state a burst leaves it in: statistics gathered while the
// backlog was empty, then thousands of queued jobs and pending messages. Statements that change known rows must
// read them by primary key, not scan the backlog through a status index; leases renew only the rows still held;
// a job due now wakes the workers, one due later does not.
import pg from 'pg';
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import {
  claimDue,
  deliveryQueue,
  nextCursor,
  postpone,
  recordDelivered,
} from '../../src/store/delivery-queue.ts';
import { claimDueJobs, finishSucceeded, jobQueue, recordProgress } from '../../src/store/job-queue.ts';
import type { Queryable } from '../../src/store/pool.ts';
import { jobsApp } from '../helpers/jobs-app.ts';
import { addMessage, delivered } from '../helpers/queue-entries.ts';

const BACKLOG = 5_000;
const app = await jobsApp(t, {}, { workers: false });
const tenant = await app.tenant('statements');
const db = new pg.Client({ connectionString: app.ctx.config.databaseUrl });
await db.connect();
t.teardown(() => db.end());

// Statistics that say nothing is waiting (some finished rows, analysed), then a backlog they know nothing of.
await db.query(
  `insert into jobs (id, tenant_id, type, status, input, timeout_seconds, max_attempts)
   select 'job_done_' || i, $1, 'echo', 'succeeded', '1', 60, 3 from generate_series(1, 500) i`,
  [tenant.id],
);
await db.query(
  `insert into messages (id, tenant_id, url, event_type, payload, status, receiver, next_attempt_at)
   select 'msg_done_' || i, $1, 'http://127.0.0.1:9/x', 'job.succeeded', '{}', 'delivered', 'r', null
     from generate_series(1, 500) i`,
  [tenant.id],
);
await db.query('analyze jobs; analyze messages');
await db.query(
  `insert into jobs (id, tenant_id, type, input, timeout_seconds, max_attempts, next_attempt_at)
   select 'job_q_' || lpad(i::text, 5, '0'), $1, 'echo', '1', 60, 3, now() - interval '1 minute'
     from generate_series(1, $2) i`,
  [tenant.id, BACKLOG],
);
await db.query(
  `insert into messages (id, tenant_id, url, event_type, payload, receiver, next_attempt_at)
   select 'msg_p_' || lpad(i::text, 5, '0'), $1, 'http://127.0.0.1:9/x', 'job.succeeded', '{}', 'r',
          now() - interval '1 minute'
     from generate_series(1, $2) i`,
  [tenant.id, BACKLOG],
);

/** Index entries and rows read by `work` on this connection (its statistics flushed before and after). */
async function indexReads(work: () => Promise<unknown>): Promise<number> {
  const read = async () => {
    await db.query('select pg_stat_force_next_flush()');
    await db.query('select 1');
    // Every index entry read and every row read by a sequential scan, on the queue tables and endpoints.
    const { rows } = await db.query<{ n: string }>(
      `select (select coalesce(sum(idx_tup_read), 0) from pg_stat_user_indexes where relname in ($1, $2, $3))
            + (select coalesce(sum(seq_tup_read), 0) from pg_stat_user_tables where relname in ($1, $2, $3)) as n`,
      ['jobs', 'messages', 'endpoints'],
    );
    return Number(rows[0]?.n);
  };
  await db.query("set stats_fetch_consistency = 'none'");
  const before = await read();
  await work();
  return (await read()) - before;
}

// A worker's claims, on this connection: the rows the statements below act on.
const [job] = await claimDueJobs(db, { limit: 1, leaseMs: 60_000 });
const [message] = await claimDue(db, { limit: 1, leaseMs: 60_000, rooms: new Map(), room: 1, cursor: '' });
if (!job || !message) throw new Error('nothing claimed');

t.test('statements on known rows read them by primary key, not the backlog', async (t) => {
  const cases: Array<[string, () => Promise<unknown>]> = [
    ['recordProgress', () => recordProgress(db, job.id, job.lease_id, 50, 'half')],
    ['renewLeases (jobs)', () => jobQueue.renew(db, [{ id: job.id, leaseId: job.lease_id }], 60_000, 5_000)],
    [
      'renewLeases (messages)',
      () => deliveryQueue.renew(db, [{ id: message.id, leaseId: message.lease_id }], 60_000, 5_000),
    ],
    ['postpone', () => postpone(db, message.id, message.lease_id, new Date(Date.now() + 60_000))],
    ['finishSucceeded', () => finishSucceeded(db, [{ id: job.id, leaseId: job.lease_id, result: 1 }])],
    ['recordDelivered', () => recordDelivered(db, [delivered(message.id, message.lease_id)], 60_000)],
  ];
  for (const [name, work] of cases) {
    const reads = await indexReads(work);
    t.ok(reads < 100, `${name}: ${reads} index entries and rows read, of a backlog of ${BACKLOG}`);
  }
  const { rows } = await db.query(
    `select (select status from jobs where id = $1) as job, (select status from messages where id = $2) as message`,
    [job.id, message.id],
  );
  t.same(rows[0], { job: 'succeeded', message: 'delivered' }, 'and they did their work');
  t.equal(
    await recordProgress(db, job.id, job.lease_id, 60, 'late'),
    undefined,
    'no progress once the attempt is over',
  );
});

t.test('a lease renewal moves only the leases still held', async (t) => {
  const [held, other] = await claimDueJobs(db, { limit: 2, leaseMs: 1_000 });
  if (!held || !other) throw new Error('nothing claimed');
  const still = await jobQueue.renew(
    db,
    [
      { id: held.id, leaseId: held.lease_id },
      // Another worker's claim since: a stale lease id renews nothing.
      { id: other.id, leaseId: '00000000-0000-0000-0000-000000000000' },
    ],
    600_000,
    5_000,
  );
  t.same([...still.held], [held.lease_id], 'the answer names the leases still held');
  t.same([...still.settled], [], 'the stale one is neither held nor settled: lost');
  const { rows } = await db.query<{ id: string; ahead: boolean }>(
    "select id, next_attempt_at > now() + interval '5 minutes' as ahead from jobs where id = any($1) order by id",
    [[held.id, other.id]],
  );
  t.same(
    rows.map((row) => [row.id, row.ahead]),
    [
      [held.id, true],
      [other.id, false],
    ],
  );
  // A delivered message keeps its lease id, but it is no longer held: nothing moves, and it reads as settled.
  const none = await deliveryQueue.renew(db, [{ id: message.id, leaseId: message.lease_id }], 600_000, 5_000);
  t.same([...none.held], []);
  t.same([...none.settled], [message.lease_id]);
  const after = await db.query('select next_attempt_at from messages where id = $1', [message.id]);
  t.equal(after.rows[0]?.next_attempt_at, null);
});

t.test('a job due now wakes the workers; one due later does not', async (t) => {
  const listener = new pg.Client({ connectionString: app.ctx.config.databaseUrl });
  await listener.connect();
  t.teardown(() => listener.end());
  const heard: string[] = [];
  listener.on('notification', (n) => heard.push(n.channel));
  await listener.query('listen hookrelay_jobs_due');
  const later = await tenant.api('POST', '/v1/jobs', {
    type: 'echo',
    input: 1,
    runAt: new Date(Date.now() + 3_600_000).toISOString(),
  });
  t.equal(later.status, 202);
  // A round trip on the listening connection delivers what was sent before it.
  await listener.query('select 1');
  t.same(heard, [], 'a job deferred by runAt sends no wake-up');
  const now = await tenant.api('POST', '/v1/jobs', { type: 'echo', input: 1 });
  t.equal(now.status, 202);
  // Each round trip on the listening connection delivers the notifications sent before it.
  await waitFor(
    'the wake-up notification',
    async () => {
      await listener.query('select 1');
      return heard.length > 0;
    },
    10_000,
  );
  t.same(heard, ['hookrelay_jobs_due']);
});

t.test('a delivery claim reads what it takes, not the backlog of a receiver that is full', async (t) => {
  await db.query(
    `insert into messages (id, tenant_id, url, event_type, payload, receiver, next_attempt_at)
     select 'msg_q_' || i, $1, 'http://127.0.0.1:9/q', 'job.succeeded', '{}', 'q', now() - interval '1 second'
       from generate_series(1, 3) i`,
    [tenant.id],
  );
  let claimed: Awaited<ReturnType<typeof claimDue>> = [];
  // Receiver r, with thousands due, is full in this dispatcher; q has three.
  const reads = await indexReads(async () => {
    claimed = await claimDue(db, {
      limit: 100,
      leaseMs: 60_000,
      rooms: new Map([['r', 0]]),
      room: 10,
      cursor: '',
    });
  });
  t.same(
    claimed.map((m) => m.receiver),
    ['q', 'q', 'q'],
  );
  t.ok(reads < 50, `${reads} index entries and rows read beside a backlog of ${BACKLOG}`);
});

t.test('claims take receivers in turn, from where the last one stopped', async (t) => {
  await db.query(
    `insert into messages (id, tenant_id, url, event_type, payload, receiver, next_attempt_at)
     select 'msg_rr_' || r || '_' || i, $1, 'http://127.0.0.1:9/' || r, 'job.succeeded', '{}', r,
            now() - interval '1 second'
       from unnest(array['s', 't', 'u']) r, generate_series(1, 4) i`,
    [tenant.id],
  );
  const skip = new Map([['r', 0]]);
  let cursor = '';
  const order: string[] = [];
  for (let i = 0; i < 6; i++) {
    const batch = await claimDue(db, { limit: 2, leaseMs: 60_000, rooms: skip, room: 2, cursor });
    cursor = nextCursor(cursor, batch);
    order.push(batch.map((m) => m.receiver).join(''));
  }
  t.same(order, ['ss', 'tt', 'uu', 'ss', 'tt', 'uu'], 'each receiver its share, in turn, round again');
});

t.test('a claim returns its messages longest due first', async (t) => {
  // Written in one order, due in another: the dispatcher starts a batch in the order it gets it.
  await db.query(
    `insert into messages (id, tenant_id, url, event_type, payload, receiver, next_attempt_at)
     select 'msg_o_' || i, $1, 'http://127.0.0.1:9/o', 'job.succeeded', '{}', 'o', now() - d * interval '1 second'
       from unnest(array[1, 2, 3], array[1, 3, 2]) as u (i, d)`,
    [tenant.id],
  );
  const others = (
    await db.query<{ receiver: string }>(
      "select distinct receiver from messages where status = 'pending' and receiver <> 'o'",
    )
  ).rows;
  const claimed = await claimDue(db, {
    limit: 10,
    leaseMs: 60_000,
    rooms: new Map(others.map((row) => [row.receiver, 0])),
    room: 10,
    cursor: '',
  });
  t.same(
    claimed.map((m) => m.id),
    ['msg_o_2', 'msg_o_3', 'msg_o_1'],
  );
});

/**
 * An endpoint `id` (its row's other columns as `columns`) with 20 messages due, and a claim for which every
 * other receiver with messages due is full: only the endpoint's can be taken, up to a room of 10.
 */
async function endpointWithBacklog(id: string, columns: Record<string, unknown>) {
  const names = Object.keys(columns);
  await db.query(
    `insert into endpoints (id, tenant_id, url, secret${names.map((name) => `, ${name}`).join('')})
     values ($1, $2, 'http://127.0.0.1:9/e', 'whsec_x'${names.map((_, i) => `, $${i + 3}`).join('')})`,
    [id, tenant.id, ...Object.values(columns)],
  );
  await db.query(
    `insert into messages (id, tenant_id, endpoint_id, url, event_type, payload, receiver, next_attempt_at)
     select 'msg_' || $1 || '_' || i, $2, $1, 'http://127.0.0.1:9/e', 'job.succeeded', '{}', $1,
            now() - interval '1 second'
       from generate_series(1, 20) i`,
    [id, tenant.id],
  );
  const full = new Map(
    (
      await db.query<{ receiver: string }>(
        "select distinct receiver from messages where status = 'pending' and receiver <> $1",
        [id],
      )
    ).rows.map((row) => [row.receiver, 0]),
  );
  return () => claimDue(db, { limit: 100, leaseMs: 60_000, rooms: full, room: 10, cursor: '' });
}

t.test(
  'an open circuit takes nothing from its backlog; once its wait is over, one message a claim',
  async (t) => {
    const claim = await endpointWithBacklog('ep_circuit', {
      circuit_open_until: new Date(Date.now() + 60_000),
    });
    t.same(await claim(), [], 'open: passed over');
    await db.query(
      "update endpoints set circuit_open_until = now() - interval '1 second' where id = 'ep_circuit'",
    );
    t.equal((await claim()).length, 1, 'its wait over: the probe alone');
    t.equal((await claim()).length, 1, 'and one again, should the probe not have settled it');
    await db.query("update endpoints set circuit_open_until = null where id = 'ep_circuit'");
    t.equal((await claim()).length, 10, 'closed: its full room');
  },
);

t.test(
  'a rate-limited endpoint gives a claim what its bucket holds, and nothing when it is empty',
  async (t) => {
    const claim = await endpointWithBacklog('ep_rated', {
      rate_limit_per_second: 3,
      rate_tokens: 0,
    });
    // Emptied by the database's clock, as the claim reads it.
    await db.query("update endpoints set rate_refilled_at = now() where id = 'ep_rated'");
    t.same(await claim(), [], 'an empty bucket: passed over');
    await db.query("update endpoints set rate_tokens = 2, rate_refilled_at = now() where id = 'ep_rated'");
    t.equal((await claim()).length, 2, 'two tokens: two messages');
    await db.query("update endpoints set rate_tokens = null, rate_refilled_at = null where id = 'ep_rated'");
    t.equal((await claim()).length, 3, 'a full bucket: its size, not the room of 10');
  },
);

t.test('a job claim reads what it takes, not the backlog', async (t) => {
  let claimed: Awaited<ReturnType<typeof claimDueJobs>> = [];
  const reads = await indexReads(async () => {
    claimed = await claimDueJobs(db, { limit: 5, leaseMs: 60_000 });
  });
  t.equal(claimed.length, 5);
  t.ok(reads < 100, `${reads} index entries and rows read, of a backlog of ${BACKLOG}`);
});

t.test('the claims update their rows with no join, so no plan can scan the batch once a row', async (t) => {
  // A join between the update and the rows picked could be planned as the ids' scan repeated for each picked
  // row: it was, for the job claim, in a database whose statistics made the two plans cost nearly the same
  // (1,078 buffers to claim 32 jobs). Which plan wins depends on those statistics, so the statements' shape is
  // what is checked: the rows the update changes come from a scan, not a join, in Postgres's generic plan.
  const { rows: version } = await db.query<{ n: string }>('select current_setting($1) as n', [
    'server_version_num',
  ]);
  if (Number(version[0]?.n) < 160000) {
    t.pass('not checked: explain (generic_plan) needs Postgres 16 or later');
    return;
  }
  const texts = new Map<string, string>();
  const recorder = {
    query: (config: unknown, values?: unknown) => {
      const { name, text } = config as { name?: string; text?: string };
      if (name && text) texts.set(name, text);
      return db.query(config as string, values as unknown[]);
    },
  } as unknown as Queryable;
  await claimDueJobs(recorder, { limit: 1, leaseMs: 60_000 });
  await claimDue(recorder, { limit: 1, leaseMs: 60_000, rooms: new Map(), room: 1, cursor: '' });
  for (const name of ['jobs.claim-due', 'messages.claim-due']) {
    const text = texts.get(name);
    if (!text) throw new Error(`${name} did not run`);
    const { rows } = await db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
      `explain (generic_plan, format json) ${text}`,
    );
    const updates = nodesOf(rows[0]?.['QUERY PLAN'][0]?.Plan).filter((n) => n['Node Type'] === 'ModifyTable');
    t.equal(updates.length, 1, `${name}: one update`);
    const source = updates[0]?.Plans?.find((child) => child['Parent Relationship'] === 'Outer');
    t.notOk(
      ['Nested Loop', 'Hash Join', 'Merge Join'].includes(source?.['Node Type'] ?? ''),
      `${name}: the update's rows come from ${source?.['Node Type']}${source?.['Relation Name'] ? ` on ${source['Relation Name']}` : ''}`,
    );
  }
});

interface PlanNode {
  'Node Type': string;
  'Parent Relationship'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

/** A plan's nodes, depth first. */
function nodesOf(node: PlanNode | undefined): PlanNode[] {
  return node ? [node, ...(node.Plans ?? []).flatMap(nodesOf)] : [];
}

// Last: the keyed backlog it writes would be in the claims of the tests above.
t.test("a record that releases a key's next message reads it by index, not the backlog", async (t) => {
  // A backlog of keyed messages too: 1,000 keys, each a head and two waiting behind it.
  await db.query(
    `insert into messages (id, tenant_id, url, event_type, payload, receiver, ordering_key, next_attempt_at)
     select 'msg_k_' || lpad(i::text, 5, '0'), $1, 'http://127.0.0.1:9/k', 'job.succeeded', '{}', 'k',
            'key-' || (i % 1000), now() - interval '1 minute'
       from generate_series(1, 3000) i`,
    [tenant.id],
  );
  const receiver = 'http://127.0.0.1:9/keyed';
  const head = await addMessage(db, tenant.id, receiver, 'statements');
  const next = await addMessage(db, tenant.id, receiver, 'statements');
  const { rows: leased } = await db.query<{ lease_id: string }>(
    `update messages set leased = true, next_attempt_at = now() + interval '1 minute' where id = $1
     returning lease_id`,
    [head],
  );
  let released: string[] = [];
  const reads = await indexReads(async () => {
    const done = await recordDelivered(db, [delivered(head, leased[0]?.lease_id ?? '', true)], 60_000);
    released = done.released.map((m) => m.id);
  });
  t.same(released, [next], 'the next message of the key is released to the recorder');
  t.ok(reads < 100, `${reads} index entries and rows read, beside a backlog of ${BACKLOG} and 3,000 keyed`);
});
