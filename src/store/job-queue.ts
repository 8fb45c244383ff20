// SQL of the job queue: queued jobs, and running ones whose lease may run out, are its entries (see
// migrations/0005_job_queue.sql). Claims with fair shares between tenants, starting an attempt, recording
// progress under the attempt's lease, and the outcomes a worker records.

import type { Lease, QueueDriver } from '../queue/driver.ts';
import { storableText, storableTextOrNull } from '../storable.ts';
import {
  changeJob,
  changeJobs,
  JOB_CHANNEL,
  JOBS_DUE_CHANNEL,
  type JobRow,
  REMOTE_DUE_CHANNEL,
} from './jobs.ts';
import { type LeaseQueue, renewLeases } from './leases.ts';
import type { Queryable } from './pool.ts';

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
  /** When the lost attempt's lease ran out (claimed from `running`). */
  lease_ended_at: Date | null;
  /** Whether the lost attempt, a push, had been handed over to its task token. */
  handed_over_before: Date | null;
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
       (select tenant_id, priority from jobs where status in ('queued', 'running') and execution <> 'remote'
         order by tenant_id, priority desc limit 1)
       union all
       select next.tenant_id, next.priority from pairs p cross join lateral (
         (select tenant_id, priority from jobs
           where status in ('queued', 'running') and execution <> 'remote' and tenant_id = p.tenant_id and priority < p.priority
           order by tenant_id, priority desc limit 1)
         union all
         (select tenant_id, priority from jobs
           where status in ('queued', 'running') and execution <> 'remote' and tenant_id > p.tenant_id
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
            and j.status in ('queued', 'running') and j.execution <> 'remote' and j.next_attempt_at <= now()
          order by j.tenant_id, j.priority desc, j.next_attempt_at limit 1
       ) first
     ), tenants as (
       select t.tenant_id from (select distinct tenant_id from due) t
        order by (select count(*) from jobs j where j.tenant_id = t.tenant_id and j.status = 'running' and j.execution <> 'remote'), t.tenant_id
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
              (select count(*) from jobs j where j.tenant_id = t.tenant_id and j.status = 'running' and j.execution <> 'remote') as running
         from (select distinct tenant_id from due) t
     ), candidates as (
       select c.id, c.status, c.priority, c.next_attempt_at, t.running,
              row_number() over tenant_order as round,
              count(*) filter (where c.status = 'queued') over tenant_order as starts
         from due d join tenants t using (tenant_id)
        cross join lateral (
          select id, status, priority, next_attempt_at from jobs
           where tenant_id = d.tenant_id and priority = d.priority and status in ('queued', 'running') and execution <> 'remote'
             and next_attempt_at <= now()
           -- In the index's order, so that it is the index read (see delivery-queue.ts on claims and planners).
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
       select j.id, j.status, j.next_attempt_at, j.handed_over_at from chosen c cross join lateral (
         -- In the state it was chosen in: a lost attempt put back as queued meanwhile was not held to the cap.
         select id, status, next_attempt_at, handed_over_at from jobs
          where id = c.id and status = c.status and next_attempt_at <= now()
          for update skip locked
       ) j
     ), changed as (
       -- The rows are locked as picked, so their columns here are as picked (j.status: the state claimed from).
       update jobs j set lease_id = gen_random_uuid(), next_attempt_at = now() + $2 * interval '1 millisecond',
                         status = 'running', attempts = j.attempts + (j.status = 'queued')::int,
                         started_at = coalesce(j.started_at, now()), version = j.version + 1,
                         heartbeat_at = null, handed_over_at = null
        -- The ids alone, no join: one scan for the batch, never repeated (see delivery-queue.ts claimDue).
        where j.id = any(array(select id from picked))
       returning j.*
     ), notified as (
       select pg_notify('${JOB_CHANNEL}', string_agg(id, ',')) from changed having count(*) > 0
     )
     -- What the rows were before: joined here, in memory, not in the update (see delivery-queue.ts claimDue).
     select changed.*, p.status as claimed_from, p.next_attempt_at as lease_ended_at,
            p.handed_over_at as handed_over_before
       from changed join picked p on p.id = changed.id left join notified on true`,
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

/** Wakes the claims waiting for the tenant's remote jobs, in every process. */
export async function notifyRemoteDue(db: Queryable, tenantId: string): Promise<void> {
  await db.query(`select pg_notify('${REMOTE_DUE_CHANNEL}', $1)`, [tenantId]);
}

/**
 * Ends running attempts as succeeded, with one statement, for jobs still leased as given and not asked to
 * cancel; the others are not returned and need a decision each. `live`: only leases not yet run out, for
 * attempts reported through a task token (an in-process worker stops its attempt before its lease can run out).
 */
export function finishSucceeded(
  db: Queryable,
  done: Array<{ id: string; leaseId: string; result: unknown }>,
  options: { live?: boolean } = {},
): Promise<JobRow[]> {
  return changeJobs(
    db,
    options.live ? 'jobs.succeed-many-live' : 'jobs.succeed-many',
    `update jobs j set status = 'succeeded', result = d.result, error = null, completed_at = now(),
            next_attempt_at = null, version = j.version + 1, progress_percent = 100
       from locked l join unnest($1::text[], $2::uuid[], $3::jsonb[]) as d (id, lease_id, result) on d.id = l.id
      where j.id = l.id and l.lease_id = d.lease_id and l.status = 'running' and l.cancel_requested_at is null
        ${options.live ? 'and j.next_attempt_at > now()' : ''}`,
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
 * is released instead (`jobQueue.release`): it says nothing about the job, so it is not counted.
 */
export function requeueJob(db: Queryable, id: string, error: string, delayMs: number) {
  return changeJob(
    db,
    `update jobs set status = 'queued', error = $2, next_attempt_at = now() + $3 * interval '1 millisecond',
            version = version + 1 where id = $1`,
    [id, storableText(error), delayMs],
  );
}

/**
 * Gives a running job back to the queue, due at once, its attempt not counted (its worker is stopping); false
 * if `leaseId` no longer holds it.
 */
async function releaseJob(db: Queryable, { id, leaseId }: Lease): Promise<boolean> {
  const [released] = await changeJobs(
    db,
    'jobs.release',
    `update jobs j set status = 'queued', error = 'the worker stopped during the attempt; it will run again',
            next_attempt_at = now(), attempts = j.attempts - 1, version = j.version + 1
       from locked l where j.id = l.id and l.lease_id = $2 and l.status = 'running'`,
    [[id], leaseId],
  );
  if (released) await notifyJobsDue(db);
  return released !== undefined;
}

/** What a running job's lease is: the job still running under it. */
const JOB_LEASES: LeaseQueue = {
  table: 'jobs',
  columns: 'id, lease_id, status, handed_over_at',
  // A push attempt answered 202 is handed over to its task token: no longer this worker's.
  held: "l.status = 'running' and l.handed_over_at is null",
};

/** The job queue as the engine drives it (src/queue/driver.ts). */
export const jobQueue: QueueDriver<
  ClaimedJob,
  { tenantMaxRunning?: number },
  { id: string; leaseId: string; result: unknown },
  JobRow[]
> = {
  table: 'jobs',
  claim: claimDueJobs,
  renew: (db, leases, leaseMs, timeoutMs) => renewLeases(db, JOB_LEASES, leases, leaseMs, timeoutMs),
  settle: (db, done) => finishSucceeded(db, done),
  release: releaseJob,
};

/** Which of these jobs have a cancellation request (checked after missed notifications). */
export async function cancelRequestedAmong(db: Queryable, ids: string[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    'select id from jobs where id = any($1) and cancel_requested_at is not null',
    [ids],
  );
  return rows.map((row) => row.id);
}
