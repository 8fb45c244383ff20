// SQL for dead letters: a message that will not be delivered (its attempts exhausted, its receiver gone, its
// endpoint disabled or deleted) gets one, which operators list, replay or discard.

import type { DeadLetterReason, MessageRow } from './messages.ts';
import type { Queryable } from './pool.ts';

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
      m.earlier_attempts + m.attempts,
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
        where m.id = any(array(select id from batch))
       returning m.*
     ), letters as (
       insert into dead_letters (id, tenant_id, message_id, job_id, endpoint_id, url, event_type, reason, attempts,
                                 last_error, last_response_status)
       select ($3::text[])[row_number() over ()], tenant_id, id, job_id, endpoint_id, url, event_type, $2,
              earlier_attempts + attempts, last_error, last_response_status
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
