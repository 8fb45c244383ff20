// SQL of the delivery queue: pending messages are its entries (see migrations/0004_delivery_queue.sql for how
// leases work). Claims, hand-backs, and the records of attempts and the message's next step.
//
// Statements that change known messages find and lock them by primary key first (the `locked` CTE, a fence the
// planner cannot fold away) and test lease and status on the locked rows. Given `status = 'pending'` on the
// updated table itself, the planner may read every pending message through a status index instead (it did,
// through messages_pending, since dropped), since statistics lag behind a backlog that grows from none to
// thousands within seconds: 6 ms instead of 0.2 for 20 rows in a backlog of 20,000 (docs/benchmarks.md). The
// claims are written so that only one plan is possible (see claimDue).

import type { Lease, QueueDriver } from '../queue/driver.ts';
import { storableText, storableTextOrNull } from '../storable.ts';
import { type LeaseQueue, renewLeases } from './leases.ts';
import type { AttemptRow, MessageRow, MessageStatus } from './messages.ts';
import type { Queryable } from './pool.ts';

export type ClaimedMessage = MessageRow & {
  /**
   * The previous claim's attempt was never recorded (its dispatcher stopped, or could not write): this claim
   * counted it in `attempts`.
   */
  lost: boolean;
  /** Its endpoint's concurrency settings (null: the defaults, and for callbacks). */
  max_concurrency: number | null;
  adaptive_concurrency: boolean | null;
};

/**
 * Leases up to `limit` due messages for `leaseMs`, visiting receivers in turn from the one after `cursor` (and
 * round again to it), each taking up to its room: `rooms` for the receivers named (0: full in the caller), else
 * `room`. Endpoint receivers are their ids (callbacks' are origins, which start with their scheme): one that is
 * disabled or deleted is left to its drain (delivery/drain.ts), one paused by a Retry-After is passed over until
 * the pause ends, one whose circuit is open is passed over until
 * its wait is over, and then gives one message a claim, the probe (a claim of its full room would give back all
 * but the probe, one write each, and with a backlog behind it claim again at once: a loop through the whole
 * backlog every cooldown). A rate-limited endpoint gives as many as its bucket (takeRateToken) holds now, for
 * the same reason. Rows another dispatcher is claiming are skipped. A message still leased from an earlier claim lost its attempt's
 * outcome: that attempt is counted here.
 *
 * The cost is the batch plus one index probe per receiver visited, whatever waits behind each (migration 0008):
 * receivers are found by skipping from one to the next in messages_receiver_due, and each one's due messages
 * are the front of its range there. The recursion is evaluated only as far as the outer limit needs.
 */
export async function claimDue(
  db: Queryable,
  claim: {
    limit: number;
    leaseMs: number;
    rooms: Map<string, number>;
    room: number;
    cursor: string;
  },
): Promise<ClaimedMessage[]> {
  const { rows } = await db.query<ClaimedMessage>({
    name: 'messages.claim-due',
    text: `with recursive after_cursor (receiver) as (
       (select receiver from messages where status = 'pending' and receiver collate "C" > $6
         order by receiver collate "C" limit 1)
       union all
       select (select m.receiver from messages m
                where m.status = 'pending' and m.receiver collate "C" > a.receiver
                order by m.receiver collate "C" limit 1)
         from after_cursor a where a.receiver is not null
     ), up_to_cursor (receiver) as (
       (select receiver from messages where status = 'pending' order by receiver collate "C" limit 1)
       union all
       select (select m.receiver from messages m
                where m.status = 'pending' and m.receiver collate "C" > u.receiver
                order by m.receiver collate "C" limit 1)
         from up_to_cursor u where u.receiver is not null and u.receiver collate "C" < $6
     ), visits as materialized (
       select receiver from after_cursor where receiver is not null
       union all
       select receiver from up_to_cursor where receiver is not null and receiver collate "C" <= $6
     ), picked as (
       select due.id, due.leased, due.next_attempt_at as was_due, share.max_concurrency, share.adaptive_concurrency
         from visits v
        cross join lateral (
          select e.max_concurrency, e.adaptive_concurrency, case
                   when not starts_with(v.receiver, 'ep_') then base.room
                   -- Paused: a Retry-After holds the whole endpoint.
                   when e.id is null or e.disabled or e.circuit_open_until > now() or e.paused_until > now() then 0
                   -- least() passes over nulls: no circuit, no rate limit.
                   else least(base.room, 2 * e.max_concurrency,
                              case when e.circuit_open_until is not null then 1 end,
                              floor(least(e.rate_limit_per_second::float,
                                          coalesce(e.rate_tokens, e.rate_limit_per_second)
                                            + extract(epoch from now() - coalesce(e.rate_refilled_at, now()))
                                              * e.rate_limit_per_second))::int)
                 end as room
            from (select coalesce((select r.room from unnest($3::text[], $4::int[]) as r (receiver, room)
                                    where r.receiver = v.receiver), $5) as room) base
            left join endpoints e on e.id = v.receiver
        ) share
        cross join lateral (
          select id, leased, next_attempt_at from messages
           where receiver collate "C" = v.receiver and status = 'pending' and next_attempt_at <= now()
           -- In the index's order and collation, so that it is the index read.
           order by receiver collate "C", next_attempt_at limit share.room
           for update skip locked
        ) due
        where share.room > 0
        limit $1
     ), changed as (
       -- Locked as picked, so m.leased here is what picked read: still leased from an earlier claim.
       update messages m set lease_id = gen_random_uuid(), next_attempt_at = now() + $2 * interval '1 millisecond',
                             leased = true, attempts = m.attempts + m.leased::int
        -- The ids as an array, with no join: one scan for the batch, never repeated (a plan cached while the table
        -- was tiny may make it a sequential scan, as before). A join here was planned as a scan of the whole table
        -- (statistics gathered when it was small), and with the array as well, as the array's scan repeated for
        -- each picked row (n² probes).
        where m.id = any(array(select id from picked))
       returning m.*
     )
     -- The endpoint's settings and the row as picked, joined in memory; longest due first, the order the
     -- dispatcher starts them in when a receiver has less room than it was given.
     select changed.*, picked.leased as lost, picked.max_concurrency, picked.adaptive_concurrency
       from changed join picked on picked.id = changed.id
      order by picked.was_due, changed.id`,
    values: [
      claim.limit,
      claim.leaseMs,
      [...claim.rooms.keys()],
      [...claim.rooms.values()],
      claim.room,
      claim.cursor,
    ],
  });
  return rows;
}

/**
 * Where the next claim should start: after the last receiver this batch visited (see claimDue). Receivers are
 * endpoint ids and URL origins, ASCII, so JavaScript's order is the byte order ("C") the claim walks them in.
 */
export function nextCursor(cursor: string, batch: Array<{ receiver: string }>): string {
  let wrapped: string | undefined;
  let ahead: string | undefined;
  for (const { receiver } of batch) {
    if (receiver > cursor) ahead = ahead === undefined || receiver > ahead ? receiver : ahead;
    else wrapped = wrapped === undefined || receiver > wrapped ? receiver : wrapped;
  }
  return wrapped ?? ahead ?? cursor;
}

/**
 * Gives a leased message back unsent, due at `at` (a circuit or rate wait), or at once by the database's clock
 * when `at` is null (a dispatcher stopping): no attempt was made, so none is counted. False if `leaseId` no
 * longer holds it.
 */
export async function postpone(
  db: Queryable,
  id: string,
  leaseId: string,
  at: Date | null,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `with locked as materialized (select id, lease_id, status, leased from messages where id = $1 for update)
     update messages m set next_attempt_at = coalesce($3, m.waiting_since, now()), leased = false, waiting_since = null
       from locked l where m.id = l.id and l.lease_id = $2 and l.status = 'pending' and l.leased`,
    [id, leaseId, at],
  );
  return rowCount === 1;
}

export interface Delivered {
  attempt: AttemptRow;
  leaseId: string;
  /** The message has an ordering key: its record may release the key's next message. */
  keyed: boolean;
}

/** recordDelivered's release of each delivered key's next message, leased to the recorder (`$8`: the lease). */
const RELEASE_NEXT = `, next as materialized (
       -- This statement reads the messages as they were before it: the delivered ones still look pending.
       select distinct waiting.id
         from done d
         cross join lateral (
           select w.id from messages w
            where w.tenant_id = d.tenant_id and w.receiver = d.receiver and w.ordering_key = d.ordering_key
              and w.status = 'pending' and w.next_attempt_at is null
            -- In messages_key_waiting's order (migration 0017).
            order by w.tenant_id, w.receiver, w.ordering_key, w.ordering_seq limit 1) waiting
         left join lateral (
           select o.id from messages o
            where o.tenant_id = d.tenant_id and o.receiver = d.receiver and o.ordering_key = d.ordering_key
              and o.status = 'pending' and o.next_attempt_at is not null and o.id <> d.id
            -- In messages_ordering's order.
            order by o.tenant_id, o.receiver, o.ordering_key, o.ordering_seq limit 1) live on true
        where d.ordering_key is not null and live.id is null
     ), next_locked as materialized (
       select id, status, next_attempt_at from messages where id = any(array(select id from next))
        order by id for update
     ), released as (
       -- waiting_since stays: a message given back unsent (its dispatcher stopping) is due from it (postpone).
       update messages m set leased = true, lease_id = gen_random_uuid(),
                             next_attempt_at = now() + $8 * interval '1 millisecond'
         from next_locked l
        where m.id = l.id and l.status = 'pending' and l.next_attempt_at is null
       returning m.*
     )`;
/** One row for each message released, each with the ids recorded; one row of nulls and those ids if none. */
const RELEASED_ROWS = `select (select array_agg(id) from done) as recorded, released.*
       from (select 1) one left join released on true`;

/** What a record of deliveries did: the messages it recorded, and those it released to the recorder. */
export interface Recorded {
  recorded: Set<string>;
  /**
   * The next message of each ordering key a delivery recorded released (the key's queue to that receiver waited
   * for it), leased for `leaseMs` to the dispatcher recording, as a hand-over is: it starts them without a claim.
   */
  released: MessageRow[];
}

/**
 * Records successful attempts with one statement: the attempts, the messages delivered, and the endpoints'
 * failure streaks reset. Only messages whose lease is still the one given are touched.
 *
 * And releases the next message of each ordering key delivered here, leased to the caller: a released message
 * would otherwise be written due (by the release trigger) and claimed, two writes of the row where this is one,
 * and under a backlog most keyed messages wait their turn (docs/benchmarks.md, "Ordering keys"). The trigger
 * still runs after, and finds the key's head live; if this statement released nothing for a key (its next
 * message ended meanwhile, or was written while this waited for the head's lock), the trigger's own loop releases
 * one, due and unleased. No NOTIFY either way (`quiet`, migration 0015): what this statement releases is the
 * caller's already, and what the trigger releases is claimed by the caller's claim loop, woken as each of its
 * attempts ends, or by any dispatcher's next poll.
 */
export async function recordDelivered(
  db: Queryable,
  delivered: Delivered[],
  leaseMs: number,
): Promise<Recorded> {
  // Only a batch with a keyed message carries the release (most traffic has no ordering key).
  const keyed = delivered.some((d) => d.keyed);
  const { rows } = await db.query<MessageRow & { recorded: string[] | null }>({
    name: keyed ? 'messages.record-delivered-keyed' : 'messages.record-delivered',
    text: `with quiet as materialized (
       select set_config('hookrelay.release_wakes', 'local', true)
     ), locked as materialized (
       -- In id order, as the writers of keyed messages lock heads (migration 0017): a plan made on a small table
       -- reads it in physical order, and a record and a writer then locked two heads in opposite orders.
       select id, lease_id, status from messages where id = any($1::text[]) and exists (select from quiet)
        order by id for update
     ), done as (
       update messages m set status = 'delivered', attempts = m.attempts + 1, last_error = null, leased = false,
                             last_response_status = d.status, next_attempt_at = null, delivered_at = now(),
                             waiting_since = null
         from locked l join unnest($1::text[], $2::uuid[], $6::int[]) as d (id, lease_id, status) on d.id = l.id
        where m.id = l.id and l.lease_id = d.lease_id and l.status = 'pending'
       returning m.id, m.endpoint_id, m.tenant_id, m.receiver, m.ordering_key
     ), recorded as (
       insert into attempts (id, message_id, attempted_at, duration_ms, response_status, response_body)
       select a.id, a.message_id, a.attempted_at, a.duration_ms, a.status, a.body
         from unnest($3::text[], $1::text[], $4::timestamptz[], $5::int[], $6::int[], $7::text[])
              as a (id, message_id, attempted_at, duration_ms, status, body)
         join done on done.id = a.message_id
     ), healed as (
       update endpoints set failing_since = null, consecutive_failures = 0, circuit_open_until = null
        where id in (select endpoint_id from done)
          and (failing_since is not null or consecutive_failures > 0 or circuit_open_until is not null)
     )${keyed ? RELEASE_NEXT : ''}
     ${keyed ? RELEASED_ROWS : 'select (select array_agg(id) from done) as recorded'}`,
    values: [
      delivered.map((d) => d.attempt.message_id),
      delivered.map((d) => d.leaseId),
      delivered.map((d) => d.attempt.id),
      delivered.map((d) => d.attempt.attempted_at),
      delivered.map((d) => d.attempt.duration_ms),
      delivered.map((d) => d.attempt.response_status),
      delivered.map((d) => storableTextOrNull(d.attempt.response_body)),
      // Postgres refuses a parameter no statement text uses.
      ...(keyed ? [leaseMs] : []),
    ],
  });
  return {
    recorded: new Set(rows[0]?.recorded ?? []),
    released: keyed
      ? rows.filter((row) => row.id !== null).map(({ recorded: _, ...message }) => message)
      : [],
  };
}

/** Records the outcome of an attempt on the message (attempts, last status and error, new state). */
export async function updateMessage(
  db: Queryable,
  id: string,
  change: {
    status: MessageStatus;
    attemptsDelta: number;
    lastError: string | null;
    lastResponseStatus: number | null;
    nextAttemptAt: Date | null;
  },
): Promise<MessageRow> {
  const { rows } = await db.query<MessageRow>(
    `update messages set status = $2, attempts = attempts + $3, last_error = $4, last_response_status = $5,
            next_attempt_at = $6, delivered_at = case when $2 = 'delivered' then now() else delivered_at end,
            leased = false, waiting_since = null
      where id = $1 returning *`,
    [
      id,
      change.status,
      change.attemptsDelta,
      storableTextOrNull(change.lastError),
      change.lastResponseStatus,
      change.nextAttemptAt,
    ],
  );
  return rows[0] as MessageRow;
}

/** Sets a leased message's last error without settling it (an attempt counted by its claim, recorded late). */
export async function noteLastError(db: Queryable, id: string, error: string): Promise<MessageRow> {
  const { rows } = await db.query<MessageRow>(
    'update messages set last_error = $2, last_response_status = null where id = $1 returning *',
    [id, storableText(error)],
  );
  return rows[0] as MessageRow;
}

/**
 * The second, minimal write for an attempt whose full record the database refused: counts the attempt on the
 * message alone (no attempt row), delivered or due again at `nextAttemptAt`, if the lease is still the one
 * given. A message whose schedule is used up is dead-lettered by the claim that takes it next.
 */
export async function countAttempt(
  db: Queryable,
  attempt: {
    id: string;
    leaseId: string;
    delivered: boolean;
    responseStatus: number | null;
    error: string;
    nextAttemptAt: Date;
  },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `with locked as materialized (select id, lease_id, status from messages where id = $1 for update)
     update messages m
        set attempts = m.attempts + 1, leased = false, waiting_since = null, last_response_status = $4, last_error = $5,
            status = case when $3 then 'delivered' else m.status end,
            delivered_at = case when $3 then now() else m.delivered_at end,
            next_attempt_at = case when $3 then null else $6::timestamptz end
       from locked l where m.id = l.id and l.lease_id = $2 and l.status = 'pending'`,
    [
      attempt.id,
      attempt.leaseId,
      attempt.delivered,
      attempt.responseStatus,
      storableText(attempt.error),
      attempt.nextAttemptAt,
    ],
  );
  return rowCount === 1;
}

/** A pending message is held only while `leased`: a retry or a wait recorded leaves it pending, not held. */
const DELIVERY_LEASES: LeaseQueue = {
  table: 'messages',
  columns: 'id, lease_id, status, leased',
  held: "l.status = 'pending' and l.leased",
};

/** The delivery queue as the engine drives it (src/queue/driver.ts). */
export const deliveryQueue: QueueDriver<
  ClaimedMessage,
  { rooms: Map<string, number>; room: number; cursor: string },
  Delivered,
  Recorded
> = {
  table: 'messages',
  claim: claimDue,
  renew: (db, leases, leaseMs, timeoutMs) => renewLeases(db, DELIVERY_LEASES, leases, leaseMs, timeoutMs),
  settle: recordDelivered,
  release: (db, { id, leaseId }: Lease) => postpone(db, id, leaseId, null),
};
