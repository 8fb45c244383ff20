// SQL for messages (one per event and destination) and their attempts: writing them as events fan out, and
// reading them for the API. Pending messages are also the delivery queue: its statements are in
// delivery-queue.ts, dead letters in dead-letters.ts.

import { storableTextOrNull } from '../storable.ts';
import type { Queryable } from './pool.ts';

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
  /** Attempts in the current retry schedule (what the schedule counts). */
  attempts: number;
  /** Attempts of schedules before the last resend or replay: the message's count is the sum of both. */
  earlier_attempts: number;
  last_error: string | null;
  last_response_status: number | null;
  /** Who receives it (endpoint id or callback origin), for per-receiver concurrency. */
  receiver: string;
  /**
   * Its job's ordering key: a pending message of a key with no due time waits for the one before it to the same
   * receiver (migration 0014).
   */
  ordering_key: string | null;
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

export interface NewMessage {
  id: string;
  tenantId: string;
  jobId: string | null;
  endpointId: string | null;
  url: string;
  eventType: string;
  payload: unknown;
  receiver: string;
  orderingKey: string | null;
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
  const keyed = messages.some((m) => m.orderingKey !== null);
  const { rows } = await db.query<MessageRow>({
    name: keyed ? 'messages.insert-many-keyed' : 'messages.insert-many',
    text: `with keys_locked as materialized (
       select ${keyed ? 'hookrelay_lock_message_keys($2::text[], $8::text[], $11::text[])' : '0'} as n
     ), inserted as (
       insert into messages (id, tenant_id, job_id, endpoint_id, url, event_type, payload, receiver, lease_id,
                             leased, next_attempt_at, ordering_key)
       select id, tenant_id, job_id, endpoint_id, url, event_type, payload, receiver,
              coalesce(lease_id, gen_random_uuid()), lease_id is not null,
              case when lease_id is null then now() else now() + $10 * interval '1 millisecond' end, ordering_key
         from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[],
                     $8::text[], $9::uuid[], $11::text[])
              as m (id, tenant_id, job_id, endpoint_id, url, event_type, payload, receiver, lease_id, ordering_key)
         -- Read first: the keys are locked before any row is written (migration 0014).
         cross join keys_locked
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
      messages.map((m) => m.orderingKey),
    ],
  });
  return rows;
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
  filter: {
    jobId?: string;
    endpointId?: string;
    status?: MessageStatus;
    orderingKey?: string;
    before?: string;
    limit: number;
  },
): Promise<MessageRow[]> {
  const { rows } = await db.query<MessageRow>(
    `select * from messages
      where tenant_id = $1 and ($2::text is null or job_id = $2) and ($3::text is null or endpoint_id = $3)
        and ($4::text is null or status = $4) and ($5::text is null or id < $5)
        and ($7::text is null or ordering_key = $7)
      order by id desc limit $6`,
    [
      tenantId,
      filter.jobId ?? null,
      filter.endpointId ?? null,
      filter.status ?? null,
      filter.before ?? null,
      filter.limit,
      filter.orderingKey ?? null,
    ],
  );
  return rows;
}

/**
 * A receiver's keys whose head (the pending message with a due time) has failed an attempt in its current
 * schedule, oldest head first, with how many of the key's messages are pending. Reads the receiver's pending
 * keyed messages through messages_ordering: an operator's view, not a hot path.
 */
export async function blockedKeys(
  db: Queryable,
  tenantId: string,
  receiver: string,
  limit: number,
): Promise<
  Array<
    Pick<
      MessageRow,
      'id' | 'job_id' | 'last_error' | 'last_response_status' | 'next_attempt_at' | 'created_at'
    > & { ordering_key: string; attempt_count: number; pending: number }
  >
> {
  const { rows } = await db.query(
    `select h.ordering_key, h.id, h.job_id, h.earlier_attempts + h.attempts as attempt_count, h.last_error,
            h.last_response_status, h.next_attempt_at, h.created_at,
            (select count(*) from messages w
              where w.tenant_id = h.tenant_id and w.receiver = h.receiver and w.ordering_key = h.ordering_key
                and w.status = 'pending')::int as pending
       from messages h
      where h.tenant_id = $1 and h.receiver = $2 and h.ordering_key is not null and h.status = 'pending'
        and h.next_attempt_at is not null and h.attempts > 0
      order by h.ordering_seq limit $3`,
    [tenantId, receiver, limit],
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

/**
 * Sends messages again from a fresh schedule, due now: the schedule's attempts restart (the message's count goes
 * on, in earlier_attempts), ids (webhook-id) stay, and a new lease
 * id voids the outcome of any attempt still in flight. Wakes the dispatchers when it commits. A message that has
 * ended joins the back of its ordering key's queue (migration 0014's trigger); one still waiting there keeps its
 * place and waits on, rather than overtake the message before it.
 */
export async function restartMessages(db: Queryable, ids: string[]): Promise<void> {
  await db.query(
    `with keys_locked as materialized (
       select hookrelay_lock_message_keys(array_agg(tenant_id), array_agg(receiver), array_agg(ordering_key)) as n
         from messages where id = any($1::text[]) and ordering_key is not null
     ), restarted as (
       update messages set status = 'pending', earlier_attempts = earlier_attempts + attempts, attempts = 0, lease_id = gen_random_uuid(),
                           next_attempt_at = case when status = 'pending' and next_attempt_at is null
                                                   and ordering_key is not null then null else now() end,
                           leased = false
        where id = any($1::text[]) and (select n from keys_locked) is not null
       returning 1
     ) select pg_notify('${DELIVERY_CHANNEL}', '') from (select 1 from restarted limit 1) any_row`,
    [ids],
  );
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
