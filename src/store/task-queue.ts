// SQL of attempts run outside this process (remote and push job types, migrations/0012_remote_job_types.sql):
// remote claims by tenant and type, task tokens, heartbeats that extend the lease, and the fenced outcomes. The
// lease is the queue engine's (jobs.lease_id, next_attempt_at): a heartbeat moves next_attempt_at ahead, and a
// lapsed one leaves the job due, for the next claim to count the lost attempt.
import { storableTextOrNull } from '../storable.ts';
import { CANCEL_CHANNEL, changeJobs, type JobRow } from './jobs.ts';
import type { Queryable } from './pool.ts';

/** What a task token stands for: the job and the lease of the attempt it was issued to. */
export interface TaskToken {
  job_id: string;
  lease_id: string;
  tenant_id: string;
}

export async function insertTaskTokens(
  db: Queryable,
  tokens: Array<{ hash: Buffer; jobId: string; leaseId: string }>,
): Promise<void> {
  await db.query({
    name: 'task-tokens.insert',
    text: `insert into task_tokens (token_hash, job_id, lease_id)
           select * from unnest($1::bytea[], $2::text[], $3::uuid[])`,
    values: [tokens.map((t) => t.hash), tokens.map((t) => t.jobId), tokens.map((t) => t.leaseId)],
  });
}

/** One index lookup by the token's hash, whatever the token: a guess costs what a hit costs. */
export async function findTaskToken(db: Queryable, hash: Buffer): Promise<TaskToken | undefined> {
  const { rows } = await db.query<TaskToken>({
    name: 'task-tokens.find',
    text: `select t.job_id, t.lease_id, j.tenant_id from task_tokens t join jobs j on j.id = t.job_id
            where t.token_hash = $1`,
    values: [hash],
  });
  return rows[0];
}

/**
 * Locks the tenant's due remote jobs of these types, at most `limit`, highest priority first then the longest
 * due, skipping rows others are claiming: queued ones, and running ones whose lease lapsed. One range of
 * jobs_remote_due per type.
 */
export async function lockDueRemote(
  db: Queryable,
  claim: { tenantId: string; types: string[]; limit: number },
): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>({
    name: 'jobs.remote-due',
    text: `select j.* from unnest($2::text[]) as t (type) cross join lateral (
             select * from jobs
              where tenant_id = $1 and type = t.type and execution = 'remote'
                and status in ('queued', 'running') and next_attempt_at <= now()
              order by tenant_id, type, priority desc, next_attempt_at limit $3
              for update skip locked
           ) j
           order by j.priority desc, j.next_attempt_at, j.id limit $3`,
    values: [claim.tenantId, claim.types, claim.limit],
  });
  return rows;
}

/** When the next of these remote jobs falls due (a retry's backoff, a runAt, a lease running out), if any. */
export async function nextRemoteDue(
  db: Queryable,
  tenantId: string,
  types: string[],
): Promise<Date | undefined> {
  const { rows } = await db.query<{ at: Date | null }>({
    name: 'jobs.remote-next-due',
    text: `select min(first.at) as at from unnest($2::text[]) as t (type) cross join lateral (
             select next_attempt_at as at from jobs
              where tenant_id = $1 and type = t.type and execution = 'remote' and status in ('queued', 'running')
              order by next_attempt_at limit 1
           ) first`,
    values: [tenantId, types],
  });
  return rows[0]?.at ?? undefined;
}

/**
 * Starts an attempt on each of these queued jobs (locked by the caller): a fresh lease, held for the job's
 * heartbeat_seconds, within a deadline of timeout_seconds from now.
 */
export function startRemoteAttempts(db: Queryable, ids: string[]): Promise<JobRow[]> {
  return changeJobs(
    db,
    'jobs.remote-start',
    `update jobs j set status = 'running', attempts = j.attempts + 1, lease_id = gen_random_uuid(),
            started_at = coalesce(j.started_at, now()), attempt_deadline = now() + j.timeout_seconds * interval '1 second',
            next_attempt_at = now() + least(j.heartbeat_seconds, j.timeout_seconds) * interval '1 second',
            heartbeat_at = null, version = j.version + 1
       from locked l where j.id = l.id and l.status = 'queued'`,
    [ids],
  );
}

/**
 * Gives a push attempt its deadline before its POST goes out (the in-process claim started it); undefined when
 * `leaseId` no longer holds the job.
 */
export async function startPushAttempt(
  db: Queryable,
  id: string,
  leaseId: string,
): Promise<JobRow | undefined> {
  const [row] = await changeJobs(
    db,
    'jobs.push-start',
    `update jobs j set attempt_deadline = now() + j.timeout_seconds * interval '1 second'
       from locked l where j.id = l.id and l.lease_id = $2 and l.status = 'running'`,
    [[id], leaseId],
  );
  return row;
}

/**
 * Extends a live lease by the job's heartbeat_seconds (never past its attempt's deadline), recording progress
 * when given; undefined when the lease is not live (ended, lost, lapsed, or the job cancelled). A push attempt's
 * hand-over (its answer 202) is the same write without progress.
 */
export async function heartbeat(
  db: Queryable,
  lease: { id: string; leaseId: string },
  progress?: { percent: number; message: string | null },
): Promise<JobRow | undefined> {
  const extend = `next_attempt_at = least(now() + j.heartbeat_seconds * interval '1 second', j.attempt_deadline),
                  heartbeat_at = now()`;
  const live = `j.id = l.id and l.lease_id = $2 and l.status = 'running' and l.cancel_requested_at is null
                and j.next_attempt_at > now()`;
  if (progress) {
    // A change clients see: the version moves and listeners (SSE, long polls) are told.
    const [row] = await changeJobs(
      db,
      'jobs.heartbeat-progress',
      `update jobs j set ${extend}, progress_percent = $3, progress_message = $4, version = j.version + 1
         from locked l where ${live}`,
      [[lease.id], lease.leaseId, progress.percent, storableTextOrNull(progress.message)],
    );
    return row;
  }
  // A bare heartbeat changes nothing a client follows: no version, no notification (one every few seconds per
  // running attempt would wake every stream watching it).
  const { rows } = await db.query<JobRow>({
    name: 'jobs.heartbeat',
    text: `with locked as materialized (
             select id, lease_id, status, cancel_requested_at from jobs where id = $1 for update
           ) update jobs j set ${extend} from locked l where ${live} returning j.*`,
    values: [lease.id, lease.leaseId],
  });
  return rows[0];
}

/**
 * Ends reported successes with one statement, each only while its lease is live and the job not asked to cancel;
 * the others are not returned.
 */
export function finishReported(
  db: Queryable,
  done: Array<{ id: string; leaseId: string; result: unknown }>,
): Promise<JobRow[]> {
  return changeJobs(
    db,
    'jobs.remote-succeed-many',
    `update jobs j set status = 'succeeded', result = d.result, error = null, completed_at = now(),
            next_attempt_at = null, version = j.version + 1, progress_percent = 100
       from locked l join unnest($1::text[], $2::uuid[], $3::jsonb[]) as d (id, lease_id, result) on d.id = l.id
      where j.id = l.id and l.lease_id = d.lease_id and l.status = 'running' and l.cancel_requested_at is null
        and j.next_attempt_at > now()`,
    [done.map((d) => d.id), done.map((d) => d.leaseId), done.map((d) => JSON.stringify(d.result))],
  );
}

/** The job locked, with whether its lease is still live by the database's clock. */
export async function lockLease(
  db: Queryable,
  id: string,
): Promise<(JobRow & { live: boolean }) | undefined> {
  const { rows } = await db.query<JobRow & { live: boolean }>(
    'select *, next_attempt_at > now() as live from jobs where id = $1 for update',
    [id],
  );
  return rows[0];
}

/** Tells the worker of a running in-process or push attempt that its job was cancelled. */
export async function notifyCancelled(db: Queryable, id: string): Promise<void> {
  await db.query(`select pg_notify('${CANCEL_CHANNEL}', $1)`, [id]);
}

/** A lapsed attempt's lease replaced before its outcome is recorded: its token then reads as stale (lease lost). */
export async function revokeLease(db: Queryable, id: string): Promise<JobRow | undefined> {
  const [row] = await changeJobs(
    db,
    'jobs.revoke-lease',
    'update jobs j set lease_id = gen_random_uuid(), version = j.version + 1 from locked l where j.id = l.id',
    [[id]],
  );
  return row;
}

/** Locks up to `limit` remote attempts whose lease lapsed, of any tenant, skipping rows others hold. */
export async function lockLapsedRemote(db: Queryable, limit: number): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>({
    name: 'jobs.remote-lapsed',
    text: `select * from jobs where status = 'running' and execution = 'remote' and next_attempt_at <= now()
            order by next_attempt_at limit $1 for update skip locked`,
    values: [limit],
  });
  return rows;
}
