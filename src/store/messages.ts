// SQL for messages (one per event and destination), their attempts, and dead letters. Pending messages are
// also the delivery queue: see migrations/0004_delivery_queue.sql for how leases work.
//
// Statements that change known messages find and lock them by primary key first (the `locked` CTE, a fence the
// planner cannot fold away) and test lease and status on the locked rows. Given `status = 'pending'` on the
// updated table itself, the planner may read every pending message through a status index instead (it did,
// through messages_pending, since dropped), since statistics lag behind a backlog that grows from none to
// thousands within seconds: 6 ms instead of 0.2 for 20 rows in a backlog of 20,000 (docs/benchmarks.md). The
// claims are written so that only one plan is possible (see claimDue).
import type { Queryable } from './pool.ts';
import { storableText, storableTextOrNull } from './storable.ts';

/**
 * Notified when messages fall due now (new, resent, replayed), so dispatchers claim at once. The payload names
 * their receivers, comma-separated, when that fits (a dispatcher whose share of each is full need not claim);
 * an empty payload means any.
 */
export const DELIVERY_CHANNEL = 'hookrelay_deliveries';

export type MessageStatus = 'pending' | 'delivered' | 'dead';
export type DeadLetterReason = 'exhausted' | 'gone' | 'endpoint_disabled' | 'endpoint_deleted';

export interface MessageRow {
  id: string;
  tenant_id: string;
  job_id: string | null;
  endpoint_id: string | null;
  url: string;
  event_type: string;
  payload: unknown;
  status: MessageStatus;
  attempts: number;
  last_error: string | null;
  last_response_status: number | null;
  /** Who receives it (endpoint id or callback origin), for per-receiver concurrency. */
  receiver: string;
  /** The lease of the dispatcher allowed to settle the attempt in flight; a new claim writes a new one. */
  lease_id: string;
  /** Claimed and not yet recorded or given back (migrations/0006_counted_attempts.sql). */
  leased: boolean;
  next_attempt_at: Date | null;
  created_at: Date;
  delivered_at: Date | null;
}

export interface AttemptRow {
  id: string;
  message_id: string;
  attempted_at: Date;
  duration_ms: number;
  response_status: number | null;
  response_body: string | null;
  error: string | null;
}

export interface DeadLetterRow {
  id: string;
  tenant_id: string;
  message_id: string;
  job_id: string | null;
  endpoint_id: string | null;
  url: string;
  event_type: string;
  reason: DeadLetterReason;
  attempts: number;
  last_error: string | null;
  last_response_status: number | null;
  dead_lettered_at: Date;
  replayed_at: Date | null;
  replayed_by: string | null;
}

export interface NewMessage {
  id: string;
  tenantId: string;
  jobId: string | null;
  endpointId: string | null;
  url: string;
  eventType: string;
  payload: unknown;
  receiver: string;
  /** Written already leased, under this lease id, to the dispatcher of the writing process (see handoff). */
  leaseId?: string;
}

/**
 * Inserts a batch of messages with one statement. Messages without a lease are due now, and the dispatchers
 * are woken for their receivers when it commits; leased ones are due when `leaseMs` runs out (so no other
 * dispatcher claims them meanwhile) and are returned, for their dispatcher to take after the commit.
 */
export async function insertMessages(
  db: Queryable,
  messages: NewMessage[],
  leaseMs: number,
): Promise<MessageRow[]> {
  if (messages.length === 0) return [];
  const { rows } = await db.query<MessageRow>({
    name: 'messages.insert-many',
    text: `with inserted as (
       insert into messages (id, tenant_id, job_id, endpoint_id, url, event_type, payload, receiver, lease_id,
                             leased, next_attempt_at)
       select id, tenant_id, job_id, endpoint_id, url, event_type, payload, receiver,
              coalesce(lease_id, gen_random_uuid()), lease_id is not null,
              case when lease_id is null then now() else now() + $10 * interval '1 millisecond' end
         from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[],
                     $8::text[], $9::uuid[])
              as m (id, tenant_id, job_id, endpoint_id, url, event_type, payload, receiver, lease_id)
       returning *
     ), woken as (
       select pg_notify('${DELIVERY_CHANNEL}', case when length(names) < 7000 then names else '' end)
         from (select string_agg(distinct receiver, ',') as names from inserted where next_attempt_at <= now()) r
        where names is not null
     )
     -- woken is read so that its NOTIFY runs (a CTE nobody reads is not evaluated).
     select inserted.* from inserted, (select count(*) from woken) w where inserted.next_attempt_at > now()`,
    values: [
      messages.map((m) => m.id),
      messages.map((m) => m.tenantId),
      messages.map((m) => m.jobId),
      messages.map((m) => m.endpointId),
      messages.map((m) => m.url),
      messages.map((m) => m.eventType),
      messages.map((m) => JSON.stringify(m.payload)),
      messages.map((m) => m.receiver),
      messages.map((m) => m.leaseId ?? null),
      leaseMs,
    ],
  });
  return rows;
}

export type ClaimedMessage = MessageRow & {
  /**
   * The previous claim's attempt was never recorded (its dispatcher stopped, or could not write): this claim
   * counted it in `attempts`.
   */
  lost: boolean;
};

/**
 * Leases up to `limit` due messages for `leaseMs`, visiting receivers in turn from the one after `cursor` (and
 * round again to it), each taking up to its room: `rooms` for the receivers named (0: full in the caller), else
 * `room`. Endpoint receivers are their ids (callbacks' are origins, which start with their scheme): one that is
 * disabled or deleted is left to its drain (delivery/drain.ts), one whose circuit is open is passed over until
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
       select due.id, due.leased
         from visits v
        cross join lateral (
          select case
                   when not starts_with(v.receiver, 'ep_') then base.room
                   when e.id is null or e.disabled or e.circuit_open_until > now() then 0
                   -- least() passes over nulls: no circuit, no rate limit.
                   else least(base.room,
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
          select id, leased from messages
           where receiver collate "C" = v.receiver and status = 'pending' and next_attempt_at <= now()
           -- In the index's order and collation, so that it is the index read.
           order by receiver collate "C", next_attempt_at limit share.room
           for update skip locked
        ) due
        where share.room > 0
        limit $1
     )
     update messages m set lease_id = gen_random_uuid(), next_attempt_at = now() + $2 * interval '1 millisecond',
                           leased = true, attempts = m.attempts + picked.leased::int
       from picked
      -- The ids as an array as well: the rows are then found by primary key, whatever the statistics say (a
      -- join alone was planned as a scan of the whole table, statistics gathered when it was small).
      where m.id = picked.id and m.id = any(array(select id from picked))
     returning m.*, picked.leased as lost`,
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
 * Gives a leased message back unsent, due at `at` (a circuit or rate wait, or a dispatcher stopping): no attempt
 * was made, so none is counted.
 */
export async function postpone(db: Queryable, id: string, leaseId: string, at: Date): Promise<void> {
  await db.query(
    `with locked as materialized (select id, lease_id, status from messages where id = $1 for update)
     update messages m set next_attempt_at = $3, leased = false
       from locked l where m.id = l.id and l.lease_id = $2 and l.status = 'pending'`,
    [id, leaseId, at],
  );
}

export interface Delivered {
  attempt: AttemptRow;
  leaseId: string;
}

/**
 * Records successful attempts with one statement: the attempts, the messages delivered, and the endpoints'
 * failure streaks reset. Only messages whose lease is still the one given are touched; returns their ids.
 */
export async function recordDelivered(db: Queryable, delivered: Delivered[]): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>({
    name: 'messages.record-delivered',
    text: `with locked as materialized (
       select id, lease_id, status from messages where id = any($1::text[]) for update
     ), done as (
       update messages m set status = 'delivered', attempts = m.attempts + 1, last_error = null, leased = false,
                             last_response_status = d.status, next_attempt_at = null, delivered_at = now()
         from locked l join unnest($1::text[], $2::uuid[], $6::int[]) as d (id, lease_id, status) on d.id = l.id
        where m.id = l.id and l.lease_id = d.lease_id and l.status = 'pending'
       returning m.id, m.endpoint_id
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
     )
     select id from done`,
    values: [
      delivered.map((d) => d.attempt.message_id),
      delivered.map((d) => d.leaseId),
      delivered.map((d) => d.attempt.id),
      delivered.map((d) => d.attempt.attempted_at),
      delivered.map((d) => d.attempt.duration_ms),
      delivered.map((d) => d.attempt.response_status),
      delivered.map((d) => storableTextOrNull(d.attempt.response_body)),
    ],
  });
  return new Set(rows.map((row) => row.id));
}

export async function lockMessage(db: Queryable, id: string): Promise<MessageRow | undefined> {
  const { rows } = await db.query<MessageRow>('select * from messages where id = $1 for update', [id]);
  return rows[0];
}

export async function getMessage(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<MessageRow | undefined> {
  const { rows } = await db.query<MessageRow>('select * from messages where id = $1 and tenant_id = $2', [
    id,
    tenantId,
  ]);
  return rows[0];
}

export async function listMessages(
  db: Queryable,
  tenantId: string,
  filter: { jobId?: string; endpointId?: string; status?: MessageStatus; before?: string; limit: number },
): Promise<MessageRow[]> {
  const { rows } = await db.query<MessageRow>(
    `select * from messages
      where tenant_id = $1 and ($2::text is null or job_id = $2) and ($3::text is null or endpoint_id = $3)
        and ($4::text is null or status = $4) and ($5::text is null or id < $5)
      order by id desc limit $6`,
    [
      tenantId,
      filter.jobId ?? null,
      filter.endpointId ?? null,
      filter.status ?? null,
      filter.before ?? null,
      filter.limit,
    ],
  );
  return rows;
}

export async function attemptsOf(db: Queryable, messageIds: string[]): Promise<AttemptRow[]> {
  const { rows } = await db.query<AttemptRow>(
    'select * from attempts where message_id = any($1) order by attempted_at, id',
    [messageIds],
  );
  return rows;
}

export async function insertAttempt(db: Queryable, attempt: AttemptRow): Promise<void> {
  await db.query(
    `insert into attempts (id, message_id, attempted_at, duration_ms, response_status, response_body, error)
     values ($1, $2, $3, $4, $5, $6, $7)`,
    [
      attempt.id,
      attempt.message_id,
      attempt.attempted_at,
      attempt.duration_ms,
      attempt.response_status,
      storableTextOrNull(attempt.response_body),
      storableTextOrNull(attempt.error),
    ],
  );
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
            leased = false
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
        set attempts = m.attempts + 1, leased = false, last_response_status = $4, last_error = $5,
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

/**
 * Sends messages again from a fresh schedule, due now: attempts restart, ids (webhook-id) stay, and a new lease
 * id voids the outcome of any attempt still in flight. Wakes the dispatchers when it commits.
 */
export async function restartMessages(db: Queryable, ids: string[]): Promise<void> {
  await db.query(
    `with restarted as (
       update messages set status = 'pending', attempts = 0, lease_id = gen_random_uuid(), next_attempt_at = now(),
                           leased = false
        where id = any($1::text[])
       returning 1
     ) select pg_notify('${DELIVERY_CHANNEL}', '') from (select 1 from restarted limit 1) any_row`,
    [ids],
  );
}

export async function insertDeadLetter(
  db: Queryable,
  letter: { id: string; message: MessageRow; reason: DeadLetterReason },
): Promise<DeadLetterRow> {
  const m = letter.message;
  const { rows } = await db.query<DeadLetterRow>(
    `insert into dead_letters (id, tenant_id, message_id, job_id, endpoint_id, url, event_type, reason, attempts,
                               last_error, last_response_status)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning *`,
    [
      letter.id,
      m.tenant_id,
      m.id,
      m.job_id,
      m.endpoint_id,
      m.url,
      m.event_type,
      letter.reason,
      m.attempts,
      m.last_error,
      m.last_response_status,
    ],
  );
  return rows[0] as DeadLetterRow;
}

/**
 * Dead-letters pending messages of an endpoint's receiver (its id), as many as `ids` names fresh dead-letter ids,
 * in one statement: front of messages_receiver_due first, skipping rows a dispatcher is settling (it finds them
 * dead, or they stay for the next batch). Returns how many.
 */
export async function deadLetterPending(
  db: Queryable,
  receiver: string,
  reason: DeadLetterReason,
  ids: string[],
): Promise<number> {
  const { rows } = await db.query<{ n: number }>({
    name: 'messages.dead-letter-pending',
    text: `with batch as (
       select id from messages where receiver collate "C" = $1 and status = 'pending'
        order by receiver collate "C", next_attempt_at limit cardinality($3::text[])
        for update skip locked
     ), dead as (
       -- A new lease id: a dispatcher holding one of these learns at its next renewal that it lost it.
       update messages m set status = 'dead', next_attempt_at = null, leased = false, lease_id = gen_random_uuid()
         from batch where m.id = batch.id and m.id = any(array(select id from batch))
       returning m.*
     ), letters as (
       insert into dead_letters (id, tenant_id, message_id, job_id, endpoint_id, url, event_type, reason, attempts,
                                 last_error, last_response_status)
       select ($3::text[])[row_number() over ()], tenant_id, id, job_id, endpoint_id, url, event_type, $2, attempts,
              last_error, last_response_status
         from dead
       returning 1
     ) select count(*)::int as n from letters`,
    values: [receiver, reason, ids],
  });
  return rows[0]?.n ?? 0;
}

/** How many of an endpoint's messages were dead-lettered for `reason` since `since`. */
export async function countDeadLettersSince(
  db: Queryable,
  tenantId: string,
  endpointId: string,
  reason: DeadLetterReason,
  since: Date,
): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `select count(*)::int as n from dead_letters
      where tenant_id = $1 and endpoint_id = $2 and dead_lettered_at >= $4 and reason = $3`,
    [tenantId, endpointId, reason, since],
  );
  return rows[0]?.n ?? 0;
}

/**
 * Endpoints, disabled or deleted, that still have pending messages (which claims leave alone): one index probe
 * per endpoint receiver with pending messages, skipping from one to the next.
 */
export async function stranded(
  db: Queryable,
): Promise<Array<{ endpoint_id: string; tenant_id: string; deleted: boolean }>> {
  const { rows } = await db.query<{ endpoint_id: string; tenant_id: string; deleted: boolean }>(
    `with recursive receivers (receiver) as (
       (select receiver from messages where status = 'pending' and receiver collate "C" >= 'ep_'
         order by receiver collate "C" limit 1)
       union all
       select (select m.receiver from messages m
                where m.status = 'pending' and m.receiver collate "C" > r.receiver
                order by m.receiver collate "C" limit 1)
         from receivers r where starts_with(r.receiver, 'ep_')
     )
     select r.receiver as endpoint_id, e.id is null as deleted,
            coalesce(e.tenant_id, (select tenant_id from messages m
                                    where m.receiver collate "C" = r.receiver and m.status = 'pending' limit 1))
              as tenant_id
       from receivers r left join endpoints e on e.id = r.receiver
      where starts_with(r.receiver, 'ep_') and (e.id is null or e.disabled)`,
  );
  return rows;
}

const DEAD_LETTER_FILTER = `($1::text is null or tenant_id = $1) and discarded_at is null
  and ($2::text is null or endpoint_id = $2) and ($3::text is null or job_id = $3)
  and ($4::timestamptz is null or dead_lettered_at >= $4) and ($5::timestamptz is null or dead_lettered_at < $5)
  and ($6::text is null or reason = $6) and ($7::boolean is null or (replayed_at is not null) = $7)`;

export interface DeadLetterFilter {
  endpointId?: string;
  jobId?: string;
  since?: Date;
  until?: Date;
  reason?: DeadLetterReason;
  replayed?: boolean;
}

const filterValues = (tenantId: string | null, f: DeadLetterFilter) => [
  tenantId,
  f.endpointId ?? null,
  f.jobId ?? null,
  f.since ?? null,
  f.until ?? null,
  f.reason ?? null,
  f.replayed ?? null,
];

/** One tenant's dead letters, or every tenant's (for the operator) when `tenantId` is null. */
export async function listDeadLetters(
  db: Queryable,
  tenantId: string | null,
  filter: DeadLetterFilter & { before?: string; limit: number },
): Promise<DeadLetterRow[]> {
  const { rows } = await db.query<DeadLetterRow>(
    `select * from dead_letters where ${DEAD_LETTER_FILTER} and ($8::text is null or id < $8) order by id desc limit $9`,
    [...filterValues(tenantId, filter), filter.before ?? null, filter.limit],
  );
  return rows;
}

/** How many not-yet-replayed dead letters match: what a bulk replay of the filter would send. */
export async function countReplayable(
  db: Queryable,
  tenantId: string,
  filter: DeadLetterFilter,
): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `select count(*)::int as n from dead_letters where ${DEAD_LETTER_FILTER} and replayed_at is null`,
    filterValues(tenantId, filter),
  );
  return rows[0]?.n ?? 0;
}

export async function getDeadLetter(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<DeadLetterRow | undefined> {
  const { rows } = await db.query<DeadLetterRow>(
    'select * from dead_letters where id = $1 and tenant_id = $2 and discarded_at is null',
    [id, tenantId],
  );
  return rows[0];
}

export async function lockDeadLetter(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<DeadLetterRow | undefined> {
  const { rows } = await db.query<DeadLetterRow>(
    'select * from dead_letters where id = $1 and tenant_id = $2 and discarded_at is null for update',
    [id, tenantId],
  );
  return rows[0];
}

/** Locks up to `limit` not-yet-replayed dead letters matching the filter, skipping ones another replay holds. */
export async function lockReplayBatch(
  db: Queryable,
  tenantId: string,
  filter: DeadLetterFilter,
  limit: number,
): Promise<DeadLetterRow[]> {
  const { rows } = await db.query<DeadLetterRow>(
    `select * from dead_letters where ${DEAD_LETTER_FILTER} and replayed_at is null
      order by id limit $8 for update skip locked`,
    [...filterValues(tenantId, filter), limit],
  );
  return rows;
}

export async function markReplayed(db: Queryable, ids: string[], by: string): Promise<void> {
  await db.query('update dead_letters set replayed_at = now(), replayed_by = $2 where id = any($1)', [
    ids,
    by,
  ]);
}

export async function discardDeadLetter(db: Queryable, tenantId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'update dead_letters set discarded_at = now() where id = $1 and tenant_id = $2 and discarded_at is null',
    [id, tenantId],
  );
  return rowCount === 1;
}
