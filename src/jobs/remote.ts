// Attempts run by workers outside this service: remote jobs claimed over HTTP (POST /v1/worker/claim), and what
// every task token reports, for remote and push attempts alike (heartbeat, complete, fail). The lease is the
// queue engine's: a claim starts the attempt with a fresh lease_id and a lease of heartbeat_seconds, each
// heartbeat extends it (never past the attempt's deadline), and every report is fenced by the token's lease.
import type { Needs } from '../context.ts';
import { AttemptConflict, InvalidRequest, NotFound, Unprocessable } from '../errors.ts';
import { createBatcher } from '../queue/batcher.ts';
import { jsonRefusal, storableText } from '../storable.ts';
import { finishSucceeded } from '../store/job-queue.ts';
import { type JobRow, lockJob, TERMINAL } from '../store/jobs.ts';
import {
  heartbeat as extendLease,
  findTaskToken,
  insertTaskTokens,
  lockDueRemote,
  nextRemoteDue,
  revokeLease,
  startRemoteAttempts,
  type TaskToken,
} from '../store/task-queue.ts';
import { type Tx, withTransaction } from '../store/transaction.ts';
import { announceEnds } from './lifecycle.ts';
import { applyOutcome, lapsed } from './outcome.ts';
import { announceProgress, type Progress } from './progress.ts';
import { hashTaskToken, newTaskToken } from './task-token.ts';

const MAX_ERROR_LENGTH = 1_000;

/** A due job waited for by an idle claim may be locked by another claim: looked at again after this long. */
const LOCKED_RECHECK_MS = 100;

export interface ClaimRequest {
  types: string[];
  max: number;
  waitSeconds: number;
}

export interface ClaimedTask {
  jobId: string;
  type: string;
  input: unknown;
  attempt: number;
  maxAttempts: number;
  metadata: Record<string, unknown>;
  taskToken: string;
  leaseExpiresAt: string;
  deadline: string;
}

export interface Failure {
  error: { message: string; code?: string };
  retry?: boolean;
  retryAfterSeconds?: number;
}

type ClaimNeeds = Needs<'config' | 'metrics' | 'notifications' | 'pool' | 'tenantTypes'>;

/**
 * Claims up to `max` due jobs of the tenant's remote types, waiting up to `waitSeconds` for one to fall due: woken
 * by a notification naming the tenant (its remote job submitted or put back due now), or at the time the next of
 * these jobs falls due (a backoff, a runAt, a lease running out), whichever comes first. `stop` ends the wait.
 */
export async function claimTasks(
  ctx: ClaimNeeds,
  tenantId: string,
  request: ClaimRequest,
  stop: AbortSignal,
): Promise<ClaimedTask[]> {
  const types = [...new Set(request.types)];
  const unknown: string[] = [];
  for (const name of types) {
    const type = await ctx.tenantTypes.find(tenantId, name);
    if (type?.row.execution !== 'remote') unknown.push(name);
  }
  if (unknown.length > 0) {
    throw new Unprocessable(
      `Not remote job types of this tenant: ${unknown.join(', ')} (register one with PUT /v1/job-types/{name}).`,
    );
  }
  const until = Date.now() + request.waitSeconds * 1000;
  let woken = false;
  let wake: (() => void) | undefined;
  const unsubscribe = ctx.notifications.onRemoteJobsDue(tenantId, () => {
    woken = true;
    wake?.();
  });
  try {
    for (;;) {
      woken = false;
      const tasks = await claimOnce(ctx, tenantId, types, request.max, stop);
      const left = until - Date.now();
      if (tasks.length > 0 || left <= 0 || stop.aborted) return tasks;
      if (woken) continue;
      const next = await nextRemoteDue(ctx.pool, tenantId, types);
      if (woken) continue;
      const untilNext = next ? Math.max(LOCKED_RECHECK_MS, next.getTime() - Date.now()) : left;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          stop.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, untilNext));
        wake = done;
        stop.addEventListener('abort', done, { once: true });
      });
      wake = undefined;
      // A worker that hung up (or a key revoked, a process draining) must not be leased a job it will never run.
      if (stop.aborted) return [];
    }
  } finally {
    unsubscribe();
  }
}

/** Thrown inside a claim's transaction to roll it back: its caller went away before it could be answered. */
class Abandoned extends Error {}

/**
 * One claim, in one transaction: due jobs locked; those whose lease lapsed are counted as failed attempts
 * (retried with backoff, or failed after the last), and more are locked in their place; the queued ones start,
 * each with a new task token. Rolled back, leasing nothing, if `stop` fired meanwhile: no one would run them.
 */
async function claimOnce(
  ctx: ClaimNeeds,
  tenantId: string,
  types: string[],
  max: number,
  stop: AbortSignal,
): Promise<ClaimedTask[]> {
  try {
    return await withTransaction(ctx.pool, async (tx) => {
      const started: JobRow[] = [];
      for (;;) {
        const locked = await lockDueRemote(tx, { tenantId, types, limit: max - started.length });
        let lapsedCount = 0;
        for (const row of locked) {
          if (row.status !== 'running') continue;
          lapsedCount += 1;
          // A new lease first, so that the lapsed attempt's token reads as stale from now on.
          const revoked = await revokeLease(tx, row.id);
          if (revoked) await applyOutcome(ctx, tx, revoked, lapsed(row, row.next_attempt_at));
        }
        const queued = locked.filter((row) => row.status === 'queued').map((row) => row.id);
        if (queued.length > 0) {
          const byId = new Map((await startRemoteAttempts(tx, queued)).map((row) => [row.id, row]));
          for (const id of queued) {
            const row = byId.get(id);
            if (row) started.push(row);
          }
        }
        // Started rows are no longer due, and lapsed ones wait for their backoff: a second pass finds others.
        if (lapsedCount === 0 || started.length >= max) break;
      }
      if (started.length === 0) return [];
      const tasks = started.map((row) => ({ row, ...newTaskToken() }));
      await insertTaskTokens(
        tx,
        tasks.map(({ row, hash }) => ({ hash, jobId: row.id, leaseId: row.lease_id })),
      );
      if (stop.aborted) throw new Abandoned();
      return tasks.map(({ row, token }) => ({
        jobId: row.id,
        type: row.type,
        input: row.input,
        attempt: row.attempts,
        maxAttempts: row.max_attempts,
        metadata: row.metadata,
        taskToken: token,
        leaseExpiresAt: (row.next_attempt_at as Date).toISOString(),
        deadline: (row.attempt_deadline as Date).toISOString(),
      }));
    });
  } catch (error) {
    if (error instanceof Abandoned) return [];
    throw error;
  }
}

class TaskNotFound extends NotFound {
  constructor() {
    super('No task has this token.');
  }
}

/** Why the token's attempt can no longer report, if it cannot. */
function conflictOf(row: JobRow & { live: boolean }, token: TaskToken): AttemptConflict | undefined {
  if (row.lease_id !== token.lease_id) {
    return new AttemptConflict(
      'Lease lost',
      "This attempt's lease was lost (no heartbeat in time); another attempt of the job holds it now.",
    );
  }
  if (row.status === 'cancelled' || row.cancel_requested_at !== null) {
    return new AttemptConflict('Attempt cancelled', 'The job was cancelled: stop working on it.');
  }
  if (TERMINAL.has(row.status))
    return new AttemptConflict('Attempt ended', `The job has ended: ${row.status}.`);
  if (row.status === 'queued') {
    return new AttemptConflict(
      'Attempt ended',
      'This attempt has ended; the job waits for its next attempt.',
    );
  }
  if (!row.live) {
    return new AttemptConflict(
      'Lease lost',
      `This attempt's lease lapsed: no heartbeat within ${row.heartbeat_seconds}s (or its deadline passed).`,
    );
  }
  return undefined;
}

/** The conflict that stopped a report, read under the job's lock (a report that did nothing has one). */
async function refusal(tx: Tx, token: TaskToken): Promise<AttemptConflict> {
  const row = await lockJob(tx, token.job_id);
  if (!row) throw new TaskNotFound();
  return conflictOf(row, token) ?? new AttemptConflict('Attempt ended', 'This attempt has ended.');
}

export interface TaskReports {
  heartbeat(token: string, progress?: Progress): Promise<{ leaseExpiresAt: string }>;
  complete(token: string, result: unknown): Promise<{ jobId: string; status: 'succeeded' }>;
  fail(
    token: string,
    failure: Failure,
  ): Promise<{ jobId: string; status: 'queued' | 'failed'; nextAttemptAt: string | null }>;
}

/** Reports through task tokens; successes end by group commit, as in-process ones do (runner.ts). */
export function createTaskReports(ctx: Needs<'config' | 'metrics' | 'pool'>): TaskReports {
  const resolve = async (token: string): Promise<TaskToken> => {
    const found = await findTaskToken(ctx.pool, hashTaskToken(token));
    if (!found) throw new TaskNotFound();
    return found;
  };

  const succeeded = createBatcher<{ id: string; leaseId: string; result: unknown }, boolean>(
    (items) =>
      withTransaction(ctx.pool, async (tx) => {
        const finished = await finishSucceeded(tx, items, { live: true });
        await announceEnds(ctx, tx, finished);
        const ended = new Set(finished.map((row) => row.id));
        return items.map((item) => ended.has(item.id));
      }),
    { maxBatch: 200, maxConcurrent: 2 },
  );

  return {
    async heartbeat(token, progress) {
      const found = await resolve(token);
      return withTransaction(ctx.pool, async (tx) => {
        const row = await extendLease(tx, { id: found.job_id, leaseId: found.lease_id }, progress);
        if (!row) throw await refusal(tx, found);
        if (progress) await announceProgress(tx, row);
        return { leaseExpiresAt: (row.next_attempt_at as Date).toISOString() };
      });
    },

    async complete(token, result) {
      const found = await resolve(token);
      const unstorable = jsonRefusal(result ?? null);
      if (unstorable) {
        throw new InvalidRequest('The result cannot be stored.', [
          { path: 'body.result', message: unstorable },
        ]);
      }
      const ended = await succeeded.add({
        id: found.job_id,
        leaseId: found.lease_id,
        result: result ?? null,
      });
      if (!ended) throw await withTransaction(ctx.pool, (tx) => refusal(tx, found));
      return { jobId: found.job_id, status: 'succeeded' };
    },

    async fail(token, failure) {
      const found = await resolve(token);
      const { message, code } = failure.error;
      const error = storableText((code ? `${code}: ${message}` : message).slice(0, MAX_ERROR_LENGTH));
      return withTransaction(ctx.pool, async (tx) => {
        const row = await lockJob(tx, found.job_id);
        if (!row) throw new TaskNotFound();
        const conflict = conflictOf(row, found);
        if (conflict) throw conflict;
        const after = await applyOutcome(
          ctx,
          tx,
          row,
          failure.retry === false
            ? { kind: 'failed', error }
            : {
                kind: 'retry',
                error,
                ...(failure.retryAfterSeconds !== undefined && { delayMs: failure.retryAfterSeconds * 1000 }),
              },
        );
        return {
          jobId: after.id,
          // A retry leaves it queued; otherwise it failed (a cancel request was refused as a conflict above).
          status: after.status as 'queued' | 'failed',
          nextAttemptAt: after.status === 'queued' ? (after.next_attempt_at?.toISOString() ?? null) : null,
        };
      });
    },
  };
}
