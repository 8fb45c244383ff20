// SQL for jobs, idempotency keys and job events. Every change to a job bumps its version and notifies
// listeners in the same statement, so SSE and long polls hear of it whichever process made it.
//
// Changes that test a job's state find and lock the job by primary key first (the `locked` CTE of changeJobs)
// and test the state on the locked row, for the reason given in delivery-queue.ts: a status test on the updated table
// lets the planner scan a whole backlog through a status index whose statistics lag behind it.

import { storableTextOrNull } from '../storable.ts';
import type { Queryable } from './pool.ts';

export const JOB_CHANNEL = 'hookrelay_jobs';

export const CANCEL_CHANNEL = 'hookrelay_cancel';

/** Notified when jobs fall due now (submitted, or put back for another attempt), so workers claim at once. */
export const JOBS_DUE_CHANNEL = 'hookrelay_jobs_due';

/**
 * The same for remote jobs, naming their tenant: a claim waiting for them wakes for its own tenant's jobs only, and
 * in-process workers do not wake for jobs they do not take.
 */
export const REMOTE_DUE_CHANNEL = 'hookrelay_remote_due';

export type JobExecution = 'builtin' | 'task' | 'remote' | 'push';

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
  /** The lease of the worker allowed to settle the attempt in flight; each claim writes a new one. */
  lease_id: string;
  /** When a queued job is due; while it runs, when its lease ends (see migrations/0005_job_queue.sql). */
  next_attempt_at: Date | null;
  cancel_requested_at: Date | null;
  /** How the job runs: in this service (builtin, task), claimed by workers over HTTP (remote), or POSTed (push). */
  execution: JobExecution;
  /** Remote and push jobs: the lease a heartbeat grants. */
  heartbeat_seconds: number | null;
  /** The running attempt's time cap, for remote and push attempts. */
  attempt_deadline: Date | null;
  /** The running attempt's last heartbeat through its task token. */
  heartbeat_at: Date | null;
  /** When a push attempt was handed over to its task token (answer 202); null while its worker holds the lease. */
  handed_over_at: Date | null;
  schedule_id: string | null;
  /** Jobs of the tenant with the same key run one at a time, in submission order (migration 0014). */
  ordering_key: string | null;
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
  execution: JobExecution;
  heartbeatSeconds: number | null;
  /** The schedule whose occurrence (or trigger) made the job. */
  scheduleId: string | null;
  orderingKey: string | null;
}

/**
 * Runs an update returning many job rows, and notifies listeners of them with one notification (ids
 * comma-separated: 100 ids stay far below the 8000-byte payload limit). `$1` holds the jobs' ids: the update
 * reads them as `locked` (see the top of this file).
 */
export async function changeJobs(
  db: Queryable,
  name: string,
  update: string,
  values: unknown[],
): Promise<JobRow[]> {
  // `update jobs j … from locked l …`: only the job's columns are returned. Named: prepared once per connection.
  const { rows } = await db.query<JobRow>({
    name,
    text: `with locked as materialized (
       -- In id order, as the writers of keyed jobs lock heads (migration 0017), whatever the plan reads first.
       select id, lease_id, status, cancel_requested_at from jobs where id = any($1::text[]) order by id for update
     ), changed as (${update} returning j.*), notified as (
       select pg_notify('${JOB_CHANNEL}', string_agg(id, ',')) from changed having count(*) > 0
     ) select changed.* from changed left join notified on true`,
    values,
  });
  return rows;
}

/** Runs an update returning the job row, and notifies listeners of the change in the same statement. */
export async function changeJob(
  db: Queryable,
  update: string,
  values: unknown[],
): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(
    `with changed as (${update} returning *), notified as (
       select pg_notify('${JOB_CHANNEL}', id) from changed
     ) select changed.* from changed left join notified on true`,
    values,
  );
  return rows[0];
}

export async function insertJob(db: Queryable, job: NewJob): Promise<JobRow> {
  const [row] = await insertJobs(db, [job]);
  return row as JobRow;
}

/** What intake answers of a job it accepted (POST /v1/jobs's 202). */
export type AcceptedJob = Pick<JobRow, 'id' | 'status' | 'created_at'>;

/**
 * Inserts jobs with one statement, each due at its runAt or now (one statement: the jobs and their queue
 * entries are the same rows, so this commits alone). Rows come back in the order given. Jobs with an ordering
 * key lock their keys first, as migration 0014 explains; a key's jobs join it in the order given.
 */
export function insertJobs(db: Queryable, jobs: NewJob[]): Promise<JobRow[]> {
  return insertReturning<JobRow>(db, jobs, '*');
}

/**
 * insertJobs for intake, which answers with three of the row's columns: the input (a kilobyte, say) does not
 * travel back to be parsed again (docs/benchmarks.md, issue 23).
 */
export function acceptJobs(db: Queryable, jobs: NewJob[]): Promise<AcceptedJob[]> {
  return insertReturning<AcceptedJob>(db, jobs, 'id, status, created_at');
}

async function insertReturning<Row extends { id: string }>(
  db: Queryable,
  jobs: NewJob[],
  returning: '*' | 'id, status, created_at',
): Promise<Row[]> {
  const keyed = jobs.some((j) => j.orderingKey !== null);
  const { rows } = await db.query<Row>({
    name: `jobs.insert-many${keyed ? '-keyed' : ''}${returning === '*' ? '' : '-accepted'}`,
    text: `with keys_locked as materialized (
       select ${keyed ? 'hookrelay_lock_job_keys($2::text[], $15::text[])' : '0'} as n
     ), inserted as (
       insert into jobs (id, tenant_id, type, input, callback_url, endpoint_id, timeout_seconds, max_attempts,
                         priority, run_at, metadata, execution, heartbeat_seconds, schedule_id, ordering_key,
                         next_attempt_at)
       select j.*, coalesce(j.run_at, now())
         from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[], $6::text[], $7::int[],
                     $8::int[], $9::int[], $10::timestamptz[], $11::jsonb[], $12::text[], $13::int[], $14::text[],
                     $15::text[])
              as j (id, tenant_id, type, input, callback_url, endpoint_id, timeout_seconds, max_attempts,
                    priority, run_at, metadata, execution, heartbeat_seconds, schedule_id, ordering_key)
         -- Read first: the keys are locked before any row is written.
         cross join keys_locked
       returning *
     ), woken as (
       select pg_notify('${JOBS_DUE_CHANNEL}', '') from inserted
        where next_attempt_at <= now() and execution <> 'remote' limit 1
     ), remote_woken as (
       select pg_notify('${REMOTE_DUE_CHANNEL}', tenant_id) from (
         select distinct tenant_id from inserted where next_attempt_at <= now() and execution = 'remote') t
     )
     -- A cross join with the one-row count keeps remote_woken in the plan (an outer join to it would be removed).
     select ${returning === '*' ? 'inserted.*' : 'inserted.id, inserted.status, inserted.created_at'}
       from inserted left join woken on true cross join (select count(*) from remote_woken) r`,
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
      jobs.map((j) => j.execution),
      jobs.map((j) => j.heartbeatSeconds),
      jobs.map((j) => j.scheduleId),
      jobs.map((j) => j.orderingKey),
    ],
  });
  const byId = new Map(rows.map((row) => [row.id, row]));
  return jobs.map((j) => byId.get(j.id) as Row);
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
  filter: {
    status?: JobStatus;
    type?: string;
    scheduleId?: string;
    orderingKey?: string;
    before?: string;
    limit: number;
  },
): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `select * from jobs
      where tenant_id = $1 and ($2::text is null or status = $2) and ($3::text is null or type = $3)
        and ($4::text is null or id < $4) and ($6::text is null or schedule_id = $6)
        and ($7::text is null or ordering_key = $7)
      order by id desc limit $5`,
    [
      tenantId,
      filter.status ?? null,
      filter.type ?? null,
      filter.before ?? null,
      filter.limit,
      filter.scheduleId ?? null,
      filter.orderingKey ?? null,
    ],
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

/**
 * Locks a job for a state change; every transition goes through this, so they are serialised per job. `live`:
 * whether its lease (next_attempt_at, while it runs) is still ahead by the database's clock.
 */
export async function lockJob(db: Queryable, id: string): Promise<(JobRow & { live: boolean }) | undefined> {
  const { rows } = await db.query<JobRow & { live: boolean }>(
    'select *, next_attempt_at > now() as live from jobs where id = $1 for update',
    [id],
  );
  return rows[0];
}

export async function finishJob(
  db: Queryable,
  id: string,
  outcome: { status: 'succeeded' | 'failed' | 'cancelled'; result?: unknown; error?: string | null },
): Promise<JobRow> {
  const row = await changeJob(
    db,
    `update jobs set status = $2, result = $3, error = $4, completed_at = now(), next_attempt_at = null,
            version = version + 1,
            progress_percent = case when $2 = 'succeeded' then 100 else progress_percent end
      where id = $1`,
    [
      id,
      outcome.status,
      outcome.result === undefined ? null : JSON.stringify(outcome.result),
      storableTextOrNull(outcome.error),
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
