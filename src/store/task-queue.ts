// SQL of attempts run outside this process (remote and push job types, migrations/0012_remote_job_types.sql):
// remote claims by tenant and type, task tokens, heartbeats that extend the lease, and the fenced outcomes. The
// lease is the queue engine's (jobs.lease_id, next_attempt_at): a heartbeat moves next_attempt_at ahead, and a
// lapsed one leaves the job due, for the next claim to count the lost attempt.
import { storableTextOrNull } from '../storable.ts';
import { CANCEL_CHANNEL, changeJobs, type JobRow } from './jobs.ts';
import type { Queryable } from './pool.ts';

/** The job locked by primary key first (see jobs.ts on why), for the fenced writes below. */
const LOCKED = 'select id, lease_id, status, cancel_requested_at from jobs where id = $1 for update';
/** A live lease: the attempt's own, running, not asked to cancel, and not run out by the database's clock. */
const LIVE = `j.id = l.id and l.lease_id = $2 and l.status = 'running' and l.cancel_requested_at is null
              and j.next_attempt_at > now()`;

/** What a task token stands for: the job and the lease of the attempt it was issued to. */
export interface TaskToken {
  job_id: string;
  lease_id: string;
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
    text: 'select job_id, lease_id from task_tokens where token_hash = $1',
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
              -- In jobs_remote_next's order: the front of each type's range.
              order by tenant_id, type, next_attempt_at limit 1
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
 * Extends a live lease by the job's heartbeat_seconds (never past its attempt's deadline, and never shorter than
 * it was: a push attempt whose POST is still in flight is also held by its worker's lease keeper), recording
 * progress when given; undefined when the lease is not live (ended, lost, lapsed, or the job cancelled).
 */
export async function heartbeat(
  db: Queryable,
  lease: { id: string; leaseId: string },
  progress?: { percent: number; message: string | null },
): Promise<JobRow | undefined> {
  const extend = `next_attempt_at = greatest(j.next_attempt_at,
                    least(now() + j.heartbeat_seconds * interval '1 second', j.attempt_deadline)),
                  heartbeat_at = now()`;
  if (progress) {
    // A change clients see: the version moves and listeners (SSE, long polls) are told.
    const [row] = await changeJobs(
      db,
      'jobs.heartbeat-progress',
      `update jobs j set ${extend}, progress_percent = $3, progress_message = $4, version = j.version + 1
         from locked l where ${LIVE}`,
      [[lease.id], lease.leaseId, progress.percent, storableTextOrNull(progress.message)],
    );
    return row;
  }
  // A bare heartbeat changes nothing a client follows: no version, no notification (one every few seconds per
  // running attempt would wake every stream watching it).
  const { rows } = await db.query<JobRow>({
    name: 'jobs.heartbeat',
    text: `with locked as materialized (${LOCKED}) update jobs j set ${extend} from locked l where ${LIVE} returning j.*`,
    values: [lease.id, lease.leaseId],
  });
  return rows[0];
}

/**
 * Hands a push attempt answered 202 over to its task token: its lease becomes heartbeat_seconds from now (within
 * the deadline), and its worker's lease keeper lets it go. Undefined when the lease is not live any more.
 */
export async function handOver(
  db: Queryable,
  lease: { id: string; leaseId: string },
): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>({
    name: 'jobs.hand-over',
    text: `with locked as materialized (${LOCKED})
           update jobs j set handed_over_at = now(), heartbeat_at = now(),
                  next_attempt_at = least(now() + j.heartbeat_seconds * interval '1 second', j.attempt_deadline)
             from locked l where ${LIVE} returning j.*`,
    values: [lease.id, lease.leaseId],
  });
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

/**
 * The (tenant, type) pairs with queued remote jobs whose type is no longer one of the tenant's remote types (it was
 * deleted or changed while another process still took submissions for it): nothing would ever claim them. Found by
 * skipping from one pair to the next in jobs_remote_next, one probe each.
 */
export async function orphanedRemoteTypes(
  db: Queryable,
): Promise<Array<{ tenant_id: string; type: string }>> {
  const { rows } = await db.query<{ tenant_id: string; type: string }>({
    name: 'jobs.remote-orphans',
    text: `with recursive pairs (tenant_id, type) as (
             (select tenant_id, type from jobs where status in ('queued', 'running') and execution = 'remote'
               order by tenant_id, type limit 1)
             union all
             select next.tenant_id, next.type from pairs p cross join lateral (
               select tenant_id, type from jobs
                where status in ('queued', 'running') and execution = 'remote'
                  and (tenant_id, type) > (p.tenant_id, p.type)
                order by tenant_id, type limit 1
             ) next
           )
           select p.tenant_id, p.type from pairs p
            where not exists (select 1 from job_types t
                               where t.tenant_id = p.tenant_id and t.name = p.type and t.execution = 'remote')`,
  });
  return rows;
}

/** Locks up to `limit` queued remote jobs of one tenant's type, skipping rows others hold. */
export async function lockQueuedRemote(
  db: Queryable,
  pair: { tenantId: string; type: string },
  limit: number,
): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>({
    name: 'jobs.remote-queued',
    text: `select * from jobs where tenant_id = $1 and type = $2 and status = 'queued' and execution = 'remote'
            order by tenant_id, type, next_attempt_at limit $3 for update skip locked`,
    values: [pair.tenantId, pair.type, limit],
  });
  return rows;
}
