// SQL for messages (one per event and destination), their attempts, and dead letters.
import type { Queryable } from './pool.ts';

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
  queue_entry_id: string;
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
  queueEntryId: string;
}

/** Inserts a batch of messages with one statement. */
export async function insertMessages(db: Queryable, messages: NewMessage[]): Promise<void> {
  if (messages.length === 0) return;
  await db.query(
    `insert into messages (id, tenant_id, job_id, endpoint_id, url, event_type, payload, queue_entry_id)
     select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::uuid[])`,
    [
      messages.map((m) => m.id),
      messages.map((m) => m.tenantId),
      messages.map((m) => m.jobId),
      messages.map((m) => m.endpointId),
      messages.map((m) => m.url),
      messages.map((m) => m.eventType),
      messages.map((m) => JSON.stringify(m.payload)),
      messages.map((m) => m.queueEntryId),
    ],
  );
}

export async function lockMessage(db: Queryable, id: string): Promise<MessageRow | undefined> {
  const { rows } = await db.query<MessageRow>('select * from messages where id = $1 for update', [id]);
  return rows[0];
}

/** Any tenant's message, for the dispatcher. */
export async function findMessage(db: Queryable, id: string): Promise<MessageRow | undefined> {
  const { rows } = await db.query<MessageRow>('select * from messages where id = $1', [id]);
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
      attempt.response_body,
      attempt.error,
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
    queueEntryId?: string;
    nextAttemptAt: Date | null;
  },
): Promise<MessageRow> {
  const { rows } = await db.query<MessageRow>(
    `update messages set status = $2, attempts = attempts + $3, last_error = $4, last_response_status = $5,
            queue_entry_id = coalesce($6, queue_entry_id), next_attempt_at = $7,
            delivered_at = case when $2 = 'delivered' then now() else delivered_at end
      where id = $1 returning *`,
    [
      id,
      change.status,
      change.attemptsDelta,
      change.lastError,
      change.lastResponseStatus,
      change.queueEntryId ?? null,
      change.nextAttemptAt,
    ],
  );
  return rows[0] as MessageRow;
}

/** Sends messages again from a fresh schedule, each by its new entry: attempts restart, ids (webhook-id) stay. */
export async function restartMessages(
  db: Queryable,
  restarts: Array<{ id: string; entryId: string }>,
): Promise<Array<Pick<MessageRow, 'id' | 'endpoint_id' | 'url' | 'queue_entry_id'>>> {
  const { rows } = await db.query<Pick<MessageRow, 'id' | 'endpoint_id' | 'url' | 'queue_entry_id'>>(
    `update messages m set status = 'pending', attempts = 0, queue_entry_id = r.entry_id, next_attempt_at = now()
       from unnest($1::text[], $2::uuid[]) as r (id, entry_id) where m.id = r.id
     returning m.id, m.endpoint_id, m.url, m.queue_entry_id`,
    [restarts.map((r) => r.id), restarts.map((r) => r.entryId)],
  );
  return rows;
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
 * Pending messages of an endpoint, locked, for dead-lettering when the endpoint goes away. Lock order matters:
 * the dispatcher locks a message, then its endpoint; callers take these before touching the endpoint row. With
 * `skipLocked` (the dispatcher's own disable path, which already holds the endpoint), messages another worker
 * holds are left to that worker, which finds the endpoint disabled at its next attempt.
 */
export async function lockPendingForEndpoint(
  db: Queryable,
  endpointId: string,
  options: { skipLocked: boolean },
): Promise<MessageRow[]> {
  const { rows } = await db.query<MessageRow>(
    `select * from messages where endpoint_id = $1 and status = 'pending' for update${options.skipLocked ? ' skip locked' : ''}`,
    [endpointId],
  );
  return rows;
}

const DEAD_LETTER_FILTER = `($1::text is null or tenant_id = $1) and discarded_at is null
  and ($2::text is null or endpoint_id = $2) and ($3::text is null or job_id = $3)
  and ($4::timestamptz is null or dead_lettered_at >= $4) and ($5::timestamptz is null or dead_lettered_at < $5)`;

export interface DeadLetterFilter {
  endpointId?: string;
  jobId?: string;
  since?: Date;
  until?: Date;
}

const filterValues = (tenantId: string | null, f: DeadLetterFilter) => [
  tenantId,
  f.endpointId ?? null,
  f.jobId ?? null,
  f.since ?? null,
  f.until ?? null,
];

/** One tenant's dead letters, or every tenant's (for the operator) when `tenantId` is null. */
export async function listDeadLetters(
  db: Queryable,
  tenantId: string | null,
  filter: DeadLetterFilter & { before?: string; limit: number },
): Promise<DeadLetterRow[]> {
  const { rows } = await db.query<DeadLetterRow>(
    `select * from dead_letters where ${DEAD_LETTER_FILTER} and ($6::text is null or id < $6) order by id desc limit $7`,
    [...filterValues(tenantId, filter), filter.before ?? null, filter.limit],
  );
  return rows;
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
      order by id limit $6 for update skip locked`,
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
