// SQL for jobs, idempotency keys and job events. Every change to a job bumps its version and notifies
// listeners in the same statement, so SSE and long polls hear of it whichever process made it.
//
// Changes that test a job's state find and lock the job by primary key first (the `locked` CTE of changeJobs)
// and test the state on the locked row, for the reason given in messages.ts: a status test on the updated table
// lets the planner scan a whole backlog through a status index whose statistics lag behind it.
import type { Queryable } from './pool.ts';
import { storableText, storableTextOrNull } from './storable.ts';

export const JOB_CHANNEL = 'hookrelay_jobs';
export const CANCEL_CHANNEL = 'hookrelay_cancel';
/** Notified when jobs fall due now (submitted, or put back for another attempt), so workers claim at once. */
export const JOBS_DUE_CHANNEL = 'hookrelay_jobs_due';

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
}

/**
 * Runs an update returning many job rows, and notifies listeners of them with one notification (ids
 * comma-separated: 100 ids stay far below the 8000-byte payload limit). `$1` holds the jobs' ids: the update
 * reads them as `locked` (see the top of this file).
 */
async function changeJobs(db: Queryable, name: string, update: string, values: unknown[]): Promise<JobRow[]> {
  // `update jobs j … from locked l …`: only the job's columns are returned. Named: prepared once per connection.
  const { rows } = await db.query<JobRow>({
    name,
    text: `with locked as materialized (
       select id, lease_id, status, cancel_requested_at from jobs where id = any($1::text[]) for update
     ), changed as (${update} returning j.*), notified as (
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
  const [row] = await insertJobs(db, [job]);
  return row as JobRow;
}

/**
 * Inserts jobs with one statement, each due at its runAt or now (one statement: the jobs and their queue
 * entries are the same rows, so this commits alone). Rows come back in the order given.
 */
export async function insertJobs(db: Queryable, jobs: NewJob[]): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>({
    name: 'jobs.insert-many',
    text: `with inserted as (
       insert into jobs (id, tenant_id, type, input, callback_url, endpoint_id, timeout_seconds, max_attempts,
                         priority, run_at, metadata, next_attempt_at)
       select *, coalesce(run_at, now())
         from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[], $6::text[], $7::int[],
                     $8::int[], $9::int[], $10::timestamptz[], $11::jsonb[])
              as j (id, tenant_id, type, input, callback_url, endpoint_id, timeout_seconds, max_attempts,
                    priority, run_at, metadata)
       returning *
     ), woken as (
       select pg_notify('${JOBS_DUE_CHANNEL}', '') from inserted where next_attempt_at <= now() limit 1
     )
     select inserted.* from inserted left join woken on true`,
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

export type ClaimedJob = JobRow & {
  /** `queued`: started by the claim. `running`: an attempt whose worker stopped renewing its lease. */
  claimed_from: 'queued' | 'running';
};

/** Advisory-lock class of the per-tenant claim locks (the second key is the tenant id's hash). */
const TENANT_CLAIM_LOCK = 0x686b72; // "hkr"
/** The most tenants one claim serves: those with the fewest jobs running go first. */
const TENANTS_PER_CLAIM = 32;

/**
 * A recursive CTE `pairs` of every (tenant, priority) with queued or running jobs, found by skipping from one to
 * the next in jobs_tenant_due: one index probe each, however many jobs share a pair. Job claims and the queue
 * metrics (stats.ts) read the front of each pair's range from it.
 */
export const TENANT_PRIORITY_PAIRS = `pairs (tenant_id, priority) as (
       (select tenant_id, priority from jobs where status in ('queued', 'running')
         order by tenant_id, priority desc limit 1)
       union all
       select next.tenant_id, next.priority from pairs p cross join lateral (
         (select tenant_id, priority from jobs
           where status in ('queued', 'running') and tenant_id = p.tenant_id and priority < p.priority
           order by tenant_id, priority desc limit 1)
         union all
         (select tenant_id, priority from jobs
           where status in ('queued', 'running') and tenant_id > p.tenant_id
           order by tenant_id, priority desc limit 1)
         limit 1
       ) next
     )`;

/**
 * Claims up to `limit` due jobs for `leaseMs`, sharing them fairly between tenants, skipping rows others are
 * claiming: queued ones start an attempt in the same statement; running ones whose lease ran out are only
 * leased, for the caller to decide on (another attempt or the end).
 *
 * Fair shares: the tenants with due jobs are served in rounds, one job each per round, the tenant with the
 * fewest jobs running first; within a tenant, highest priority first, then the longest due. With
 * `tenantMaxRunning`, no tenant starts jobs beyond that many running, counted across every process: then call
 * this in a transaction, since the first statement locks the tenants it found and the second counts their
 * running jobs under those locks, so that two claims cannot both start a tenant's last allowed job.
 *
 * Cost: one index probe per (tenant, priority) with queued or running jobs, to find the due ones, plus the
 * rows taken (jobs_tenant_due, migration 0009); not the backlog behind them.
 */
export async function claimDueJobs(
  db: Queryable,
  claim: { limit: number; leaseMs: number; tenantMaxRunning?: number },
): Promise<ClaimedJob[]> {
  const lock = claim.tenantMaxRunning !== undefined;
  const due = await db.query<{ tenant_id: string; priority: number }>({
    name: lock ? 'jobs.due-tenants-locked' : 'jobs.due-tenants',
    text: `with recursive ${TENANT_PRIORITY_PAIRS}, due as materialized (
       -- A probe per pair (a semi-join left to the planner may read every due job instead).
       select p.tenant_id, p.priority from pairs p cross join lateral (
         select 1 from jobs j
          where j.tenant_id = p.tenant_id and j.priority = p.priority
            and j.status in ('queued', 'running') and j.next_attempt_at <= now()
          order by j.tenant_id, j.priority desc, j.next_attempt_at limit 1
       ) first
     ), tenants as (
       select t.tenant_id from (select distinct tenant_id from due) t
        order by (select count(*) from jobs j where j.tenant_id = t.tenant_id and j.status = 'running'), t.tenant_id
        limit $1
     )${
       lock
         ? `, locked as (
       select count(pg_advisory_xact_lock(${TENANT_CLAIM_LOCK}, h)) from (
         select distinct hashtext(tenant_id) as h from tenants order by h) ordered
     )
     select due.* from due join tenants using (tenant_id), locked`
         : `
     select due.* from due join tenants using (tenant_id)`
     }`,
    values: [TENANTS_PER_CLAIM],
  });
  if (due.rows.length === 0) return [];
  const { rows } = await db.query<ClaimedJob>({
    name: 'jobs.claim-due',
    text: `with due (tenant_id, priority) as (
       select * from unnest($3::text[], $4::int[])
     ), tenants as materialized (
       select t.tenant_id,
              (select count(*) from jobs j where j.tenant_id = t.tenant_id and j.status = 'running') as running
         from (select distinct tenant_id from due) t
     ), candidates as (
       select c.id, c.status, c.priority, c.next_attempt_at, t.running,
              row_number() over tenant_order as round,
              count(*) filter (where c.status = 'queued') over tenant_order as starts
         from due d join tenants t using (tenant_id)
        cross join lateral (
          select id, status, priority, next_attempt_at from jobs
           where tenant_id = d.tenant_id and priority = d.priority and status in ('queued', 'running')
             and next_attempt_at <= now()
           -- In the index's order, so that it is the index read (see messages.ts on claims and planners).
           order by tenant_id, priority desc, next_attempt_at limit $1
        ) c
       -- Rows one by one (ids break ties): jobs due at the same moment must not all count as one group's start.
       window tenant_order as (partition by d.tenant_id order by c.priority desc, c.next_attempt_at, c.id
                               rows between unbounded preceding and current row)
     ), chosen as (
       select id, status from candidates
        -- A lost attempt is already counted as running; only starts are held to the cap.
        where status = 'running' or $5::int is null or starts <= $5 - running
        order by round, running, priority desc, next_attempt_at, id
        limit $1
     ), picked as (
       -- Row by row from the chosen ids: a join left to the planner may read the whole backlog instead.
       select j.id, j.status from chosen c cross join lateral (
         -- In the state it was chosen in: a lost attempt put back as queued meanwhile was not held to the cap.
         select id, status from jobs
          where id = c.id and status = c.status and next_attempt_at <= now()
          for update skip locked
       ) j
     ), changed as (
       update jobs j set lease_id = gen_random_uuid(), next_attempt_at = now() + $2 * interval '1 millisecond',
                         status = 'running', attempts = j.attempts + (p.status = 'queued')::int,
                         started_at = coalesce(j.started_at, now()), version = j.version + 1
         -- By primary key whatever the statistics say (see messages.ts claimDue).
         from picked p where j.id = p.id and j.id = any(array(select id from picked))
       returning j.*, p.status as claimed_from
     ), notified as (
       select pg_notify('${JOB_CHANNEL}', string_agg(id, ',')) from changed having count(*) > 0
     ) select changed.* from changed left join notified on true`,
    values: [
      claim.limit,
      claim.leaseMs,
      due.rows.map((row) => row.tenant_id),
      due.rows.map((row) => row.priority),
      claim.tenantMaxRunning ?? null,
    ],
  });
  return rows;
}

/** Wakes the workers of every process: jobs are due now. */
export async function notifyJobsDue(db: Queryable): Promise<void> {
  await db.query(`select pg_notify('${JOBS_DUE_CHANNEL}', '')`);
}

/**
 * Ends running attempts as succeeded, with one statement, for jobs still leased as given and not asked to
 * cancel; the others are not returned and need a decision each.
 */
export function finishSucceeded(
  db: Queryable,
  done: Array<{ id: string; leaseId: string; result: unknown }>,
): Promise<JobRow[]> {
  return changeJobs(
    db,
    'jobs.succeed-many',
    `update jobs j set status = 'succeeded', result = d.result, error = null, completed_at = now(),
            next_attempt_at = null, version = j.version + 1, progress_percent = 100
       from locked l join unnest($1::text[], $2::uuid[], $3::jsonb[]) as d (id, lease_id, result) on d.id = l.id
      where j.id = l.id and l.lease_id = d.lease_id and l.status = 'running' and l.cancel_requested_at is null`,
    [done.map((d) => d.id), done.map((d) => d.leaseId), done.map((d) => JSON.stringify(d.result))],
  );
}

/** Records progress of the attempt holding `leaseId`; undefined when it no longer holds the job. */
export async function recordProgress(
  db: Queryable,
  id: string,
  leaseId: string,
  percent: number,
  message: string | null,
) {
  const [row] = await changeJobs(
    db,
    'jobs.progress',
    `update jobs j set progress_percent = $2, progress_message = $3, version = j.version + 1
       from locked l where j.id = l.id and l.status = 'running' and l.lease_id = $4`,
    [[id], percent, storableTextOrNull(message), leaseId],
  );
  return row;
}

/**
 * Puts the job back in the queue for another attempt, due in `delayMs` (the lease stays, no longer held: a queued
 * job is held by nobody, and the next claim writes a new one). An attempt cut short by the worker's own shutdown
 * is given back (`refund`): it says nothing about the job.
 */
export function requeueJob(db: Queryable, id: string, error: string, delayMs: number, refund: boolean) {
  return changeJob(
    db,
    `update jobs set status = 'queued', error = $2,
            next_attempt_at = now() + $3 * interval '1 millisecond', attempts = attempts - $4::int,
            version = version + 1 where id = $1`,
    [id, storableText(error), delayMs, refund ? 1 : 0],
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
