// SQL for jobs, idempotency keys and job events. Every change to a job bumps its version and notifies
// listeners in the same statement, so SSE and long polls hear of it whichever process made it.
import type { Queryable } from './pool.ts';

export const JOB_CHANNEL = 'hookrelay_jobs';
export const CANCEL_CHANNEL = 'hookrelay_cancel';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const TERMINAL: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled']);

export interface JobRow {
  id: string;
  tenant_id: string;
  type: string;
  status: JobStatus;
  input: unknown;
  callback_url: string | null;
  endpoint_id: string | null;
  timeout_seconds: number;
  max_attempts: number;
  priority: number;
  run_at: Date | null;
  metadata: Record<string, unknown>;
  attempts: number;
  progress_percent: number;
  progress_message: string | null;
  result: unknown;
  error: string | null;
  queue_entry_id: string;
  cancel_requested_at: Date | null;
  version: number;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
}

export interface NewJob {
  id: string;
  tenantId: string;
  type: string;
  input: unknown;
  callbackUrl: string | null;
  endpointId: string | null;
  timeoutSeconds: number;
  maxAttempts: number;
  priority: number;
  runAt: Date | null;
  metadata: Record<string, unknown>;
  queueEntryId: string;
}

/**
 * Runs an update returning many job rows, and notifies listeners of them with one notification (ids
 * comma-separated: 100 ids stay far below the 8000-byte payload limit).
 */
async function changeJobs(db: Queryable, name: string, update: string, values: unknown[]): Promise<JobRow[]> {
  // `update jobs j … from …`: only the job's columns are returned. Named: prepared once per connection.
  const { rows } = await db.query<JobRow>({
    name,
    text: `with changed as (${update} returning j.*), notified as (
       select pg_notify('${JOB_CHANNEL}', string_agg(id, ',')) from changed having count(*) > 0
     ) select changed.* from changed left join notified on true`,
    values,
  });
  return rows;
}

/** Runs an update returning the job row, and notifies listeners of the change in the same statement. */
async function changeJob(db: Queryable, update: string, values: unknown[]): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(
    `with changed as (${update} returning *), notified as (
       select pg_notify('${JOB_CHANNEL}', id) from changed
     ) select changed.* from changed left join notified on true`,
    values,
  );
  return rows[0];
}

export async function insertJob(db: Queryable, job: NewJob): Promise<JobRow> {
  const { rows } = await db.query<JobRow>(
    `insert into jobs (id, tenant_id, type, input, callback_url, endpoint_id, timeout_seconds, max_attempts,
                       priority, run_at, metadata, queue_entry_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning *`,
    [
      job.id,
      job.tenantId,
      job.type,
      JSON.stringify(job.input),
      job.callbackUrl,
      job.endpointId,
      job.timeoutSeconds,
      job.maxAttempts,
      job.priority,
      job.runAt,
      JSON.stringify(job.metadata),
      job.queueEntryId,
    ],
  );
  return rows[0] as JobRow;
}

/** Inserts jobs with one statement; rows come back in the order given. */
export async function insertJobs(db: Queryable, jobs: NewJob[]): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>({
    name: 'jobs.insert-many',
    text: `insert into jobs (id, tenant_id, type, input, callback_url, endpoint_id, timeout_seconds, max_attempts,
                       priority, run_at, metadata, queue_entry_id)
     select * from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[], $6::text[], $7::int[],
                          $8::int[], $9::int[], $10::timestamptz[], $11::jsonb[], $12::uuid[])
     returning *`,
    values: [
      jobs.map((j) => j.id),
      jobs.map((j) => j.tenantId),
      jobs.map((j) => j.type),
      jobs.map((j) => JSON.stringify(j.input)),
      jobs.map((j) => j.callbackUrl),
      jobs.map((j) => j.endpointId),
      jobs.map((j) => j.timeoutSeconds),
      jobs.map((j) => j.maxAttempts),
      jobs.map((j) => j.priority),
      jobs.map((j) => j.runAt),
      jobs.map((j) => JSON.stringify(j.metadata)),
      jobs.map((j) => j.queueEntryId),
    ],
  });
  const byId = new Map(rows.map((row) => [row.id, row]));
  return jobs.map((j) => byId.get(j.id) as JobRow);
}

/** A tenant's job; another tenant's id reads as missing. */
export async function getJob(db: Queryable, tenantId: string, id: string): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>('select * from jobs where id = $1 and tenant_id = $2', [
    id,
    tenantId,
  ]);
  return rows[0];
}

export async function listJobs(
  db: Queryable,
  tenantId: string,
  filter: { status?: JobStatus; type?: string; before?: string; limit: number },
): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `select * from jobs
      where tenant_id = $1 and ($2::text is null or status = $2) and ($3::text is null or type = $3)
        and ($4::text is null or id < $4)
      order by id desc limit $5`,
    [tenantId, filter.status ?? null, filter.type ?? null, filter.before ?? null, filter.limit],
  );
  return rows;
}

/** How many of the tenant's jobs wait, counting no further than `cap` (the answer only has to reach it). */
export async function countQueued(db: Queryable, tenantId: string, cap: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    "select count(*)::int as n from (select 1 from jobs where tenant_id = $1 and status = 'queued' limit $2) q",
    [tenantId, cap],
  );
  return rows[0]?.n ?? 0;
}

/** Records a key for a new job; undefined when a live (under 24 h) record of that key already exists. */
export async function claimIdempotencyKey(
  db: Queryable,
  record: { tenantId: string; key: string; requestHash: Buffer; jobId: string },
): Promise<string | undefined> {
  const { rows } = await db.query<{ job_id: string }>(
    `insert into idempotency_keys (tenant_id, key, request_hash, job_id) values ($1, $2, $3, $4)
     on conflict (tenant_id, key) do update
       set request_hash = excluded.request_hash, job_id = excluded.job_id, created_at = now()
       where idempotency_keys.created_at < now() - interval '24 hours'
     returning job_id`,
    [record.tenantId, record.key, record.requestHash, record.jobId],
  );
  return rows[0]?.job_id;
}

export async function findIdempotencyKey(
  db: Queryable,
  tenantId: string,
  key: string,
): Promise<{ request_hash: Buffer; job_id: string } | undefined> {
  const { rows } = await db.query<{ request_hash: Buffer; job_id: string }>(
    "select request_hash, job_id from idempotency_keys where tenant_id = $1 and key = $2 and created_at >= now() - interval '24 hours'",
    [tenantId, key],
  );
  return rows[0];
}

/** Locks a job for a state change; every transition goes through this, so they are serialised per job. */
export async function lockJob(db: Queryable, id: string): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>('select * from jobs where id = $1 for update', [id]);
  return rows[0];
}

export function startAttempt(db: Queryable, id: string): Promise<JobRow | undefined> {
  return changeJob(
    db,
    `update jobs set status = 'running', attempts = attempts + 1, started_at = coalesce(started_at, now()),
            version = version + 1 where id = $1`,
    [id],
  );
}

/**
 * Starts the attempts of queued jobs whose entries these are, with one statement. Jobs in any other state
 * (a cancel request, an attempt whose worker died, a stale entry) are not returned: each needs a decision.
 */
export function startAttempts(
  db: Queryable,
  starts: Array<{ id: string; entryId: string }>,
): Promise<JobRow[]> {
  return changeJobs(
    db,
    'jobs.start-many',
    `update jobs j set status = 'running', attempts = j.attempts + 1, started_at = coalesce(j.started_at, now()),
            version = j.version + 1
       from unnest($1::text[], $2::uuid[]) as s (id, entry_id)
      where j.id = s.id and j.queue_entry_id = s.entry_id and j.status = 'queued' and j.cancel_requested_at is null`,
    [starts.map((s) => s.id), starts.map((s) => s.entryId)],
  );
}

/**
 * Ends running attempts as succeeded, with one statement, for jobs still run by these entries and not asked
 * to cancel; the others are not returned and need a decision each.
 */
export function finishSucceeded(
  db: Queryable,
  done: Array<{ id: string; entryId: string; result: unknown }>,
): Promise<JobRow[]> {
  return changeJobs(
    db,
    'jobs.succeed-many',
    `update jobs j set status = 'succeeded', result = d.result, error = null, completed_at = now(),
            version = j.version + 1, progress_percent = 100
       from unnest($1::text[], $2::uuid[], $3::jsonb[]) as d (id, entry_id, result)
      where j.id = d.id and j.queue_entry_id = d.entry_id and j.status = 'running' and j.cancel_requested_at is null`,
    [done.map((d) => d.id), done.map((d) => d.entryId), done.map((d) => JSON.stringify(d.result))],
  );
}

export function recordProgress(db: Queryable, id: string, percent: number, message: string | null) {
  return changeJob(
    db,
    `update jobs set progress_percent = $2, progress_message = $3, version = version + 1
      where id = $1 and status = 'running'`,
    [id, percent, message],
  );
}

/**
 * Puts the job back in the queue for another attempt, run by the given new pg-boss entry. An attempt cut short
 * by the worker's own shutdown is given back (`refund`): it says nothing about the job.
 */
export function requeueJob(db: Queryable, id: string, error: string, queueEntryId: string, refund: boolean) {
  return changeJob(
    db,
    `update jobs set status = 'queued', error = $2, queue_entry_id = $3, attempts = attempts - $4::int,
            version = version + 1 where id = $1`,
    [id, error, queueEntryId, refund ? 1 : 0],
  );
}

/** Which of these jobs have a cancellation request (checked after missed notifications). */
export async function cancelRequestedAmong(db: Queryable, ids: string[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    'select id from jobs where id = any($1) and cancel_requested_at is not null',
    [ids],
  );
  return rows.map((row) => row.id);
}

export async function finishJob(
  db: Queryable,
  id: string,
  outcome: { status: 'succeeded' | 'failed' | 'cancelled'; result?: unknown; error?: string | null },
): Promise<JobRow> {
  const row = await changeJob(
    db,
    `update jobs set status = $2, result = $3, error = $4, completed_at = now(), version = version + 1,
            progress_percent = case when $2 = 'succeeded' then 100 else progress_percent end
      where id = $1`,
    [
      id,
      outcome.status,
      outcome.result === undefined ? null : JSON.stringify(outcome.result),
      outcome.error ?? null,
    ],
  );
  return row as JobRow;
}

/** Marks a running job for cancellation and tells the worker running it, whichever process that is. */
export async function requestCancel(db: Queryable, id: string): Promise<void> {
  await db.query(
    `with changed as (update jobs set cancel_requested_at = now(), version = version + 1 where id = $1 returning id)
     select pg_notify('${CANCEL_CHANNEL}', id), pg_notify('${JOB_CHANNEL}', id) from changed`,
    [id],
  );
}

export async function insertJobEvents(
  db: Queryable,
  events: Array<{ tenantId: string; jobId: string; type: string; payload: unknown }>,
): Promise<void> {
  await db.query({
    name: 'job-events.insert-many',
    text: `insert into job_events (tenant_id, job_id, event_type, payload)
     select * from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])`,
    values: [
      events.map((e) => e.tenantId),
      events.map((e) => e.jobId),
      events.map((e) => e.type),
      events.map((e) => JSON.stringify(e.payload)),
    ],
  });
}
