// Runs job attempts from the jobs table, which is their queue (migrations/0005_job_queue.sql): claim due jobs
// up to the free capacity, run each handler under a timeout and a cancel signal while renewing its lease, then
// record each outcome (and the next attempt or the job's end). The common cases, a queued job starting and a
// job succeeding, are written for many jobs per statement; every other case (cancel requests, retries,
// failures, an attempt whose worker died) takes its own transaction.
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppContext } from '../context.ts';
import type { Claimer } from '../delivery/claimer.ts';
import { soon } from '../soon.ts';
import { createBatcher } from '../store/batcher.ts';
import {
  type ClaimedJob,
  cancelRequestedAmong,
  claimDueJobs,
  finishSucceeded,
  type JobRow,
  lockJob,
  notifyJobsDue,
  recordProgress,
  requeueJob,
  startAttempt,
} from '../store/jobs.ts';
import { JOB_LEASES, renewLeases } from '../store/leases.ts';
import type { MessageRow } from '../store/messages.ts';
import { isDataRefusal, jsonRefusal } from '../store/storable.ts';
import { withTransaction } from '../store/transaction.ts';
import { isDatabaseUnavailable } from '../store/unavailable.ts';
import { deadline } from '../timeout.ts';
import { retryDelayMs } from './backoff.ts';
import { PermanentJobError, RetryLaterError } from './handler.ts';
import { announceEnds, endJob } from './lifecycle.ts';
import { findHandler } from './registry.ts';

/** The most jobs one claim takes (their ids share one change notification, which must stay under 8000 bytes). */
const CLAIM_BATCH = 100;
/**
 * A NOTIFY wakes workers for jobs due now; a retry's backoff or a runAt gets none when it falls due, nor does an
 * attempt whose worker died. The backstop poll bounds those delays.
 */
const POLL_MS = 1_000;
const MAX_ERROR_LENGTH = 1_000;

/** What an attempt came to; `settle` is the one place that acts on it. */
type Outcome =
  | { kind: 'succeeded'; result: unknown }
  | { kind: 'cancelled' }
  | { kind: 'failed'; error: string }
  | { kind: 'retry'; error: string; delayMs?: number }
  | { kind: 'interrupted' };

class Cancelled extends Error {}

export interface JobRunner {
  /**
   * Stops claiming, gives the attempts running most of the shutdown deadline to end, then interrupts the rest:
   * they are put back for another worker, the attempt given back.
   */
  stop(): Promise<void>;
}

/** `dispatcher`: this process's, when it delivers too, to hand finished jobs' messages to. */
export function startJobRunner(ctx: AppContext, dispatcher?: Pick<Claimer, 'handoff'>): JobRunner {
  const { events } = ctx;
  const capacity = ctx.config.workerConcurrency;
  const leaseMs = ctx.config.jobHeartbeatMs;
  /** The attempts held here, by job id, from their claim until their outcome is recorded. */
  const attempts = new Map<string, Attempt>();
  const shutdown = new AbortController();
  /** Cancel requests for jobs not (yet) held here, heard while a claim was in flight: it may return them. */
  const cancelledWhileClaiming = new Set<string>();
  let claiming: Promise<void> | undefined;
  let again = false;
  /** The last claim filled up, or work fell due while every slot was taken: a freed slot should claim. */
  let backlog = false;
  let stopped = false;

  const warn = (error: unknown, msg: string) =>
    isDatabaseUnavailable(error) ? ctx.log.warn({ err: error }, msg) : ctx.log.error({ err: error }, msg);

  const unsubscribeCancel = events.onCancelRequest((jobId) => {
    if (jobId !== undefined) {
      const attempt = attempts.get(jobId);
      if (attempt) attempt.controller.abort(new Cancelled());
      else if (claiming) cancelledWhileClaiming.add(jobId);
      return;
    }
    if (attempts.size === 0) return;
    cancelRequestedAmong(ctx.pool, [...attempts.keys()]).then(
      (ids) => {
        for (const id of ids) attempts.get(id)?.controller.abort(new Cancelled());
      },
      (error: unknown) => ctx.log.warn({ err: error }, 'cannot check for missed cancellations'),
    );
  });

  // Successes end by group commit: those that finish while one commit runs share the next. Their messages go
  // straight to this process's dispatcher when it has room (written leased to it, handed over after the
  // commit), instead of waiting for a NOTIFY and a claim.
  const succeeded = createBatcher<Success, boolean>(
    async (items) => {
      const handoff = dispatcher?.handoff();
      let leased: MessageRow[] = [];
      try {
        const results = await withTransaction(ctx.pool, async (tx) => {
          const finished = await finishSucceeded(
            tx,
            items.map((item) => ({ id: item.jobId, leaseId: item.leaseId, result: item.result })),
          );
          leased = await announceEnds(ctx, tx, finished, handoff);
          const ended = new Set(finished.map((row) => row.id));
          return items.map((item) => ended.has(item.jobId));
        });
        handoff?.adopt(leased);
        return results;
      } catch (error) {
        handoff?.cancel();
        throw error;
      }
    },
    { maxBatch: 200, maxConcurrent: 2 },
  );
  const runner: Runner = { shutdown: shutdown.signal, succeeded: (success) => succeeded.add(success) };

  function wake(): void {
    if (stopped) return;
    if (claiming) {
      again = true;
      return;
    }
    claiming = claimWhileFree()
      .catch((error: unknown) => warn(error, 'cannot claim jobs; trying again shortly'))
      .finally(() => {
        claiming = undefined;
        cancelledWhileClaiming.clear();
      });
  }

  /** Many attempts end in one turn of the event loop: one claim serves them all. */
  const wakeSoon = soon(wake);

  async function claimWhileFree(): Promise<void> {
    do {
      again = false;
      const free = capacity - attempts.size;
      if (free <= 0) {
        backlog = true;
        return;
      }
      const limit = Math.min(free, CLAIM_BATCH);
      const rows = await claimDueJobs(ctx.pool, { limit, leaseMs });
      backlog = rows.length === limit;
      for (const row of rows) start(row);
      if (backlog) again = true;
    } while (again && !stopped);
  }

  function start(row: ClaimedJob): void {
    const controller = new AbortController();
    if (cancelledWhileClaiming.has(row.id)) controller.abort(new Cancelled());
    const attempt: Attempt = { controller, leaseId: row.lease_id };
    attempts.set(row.id, attempt);
    attempt.done = runAttempt(ctx, runner, row, controller)
      .catch((error: unknown) => warn(error, 'job attempt not recorded; it runs again when its lease ends'))
      .finally(() => {
        if (attempts.get(row.id) === attempt) attempts.delete(row.id);
        if (backlog) wakeSoon();
      });
  }

  const poll = setInterval(wake, POLL_MS);
  const renew = setInterval(() => {
    if (attempts.size === 0) return;
    const leases = [...attempts].map(([id, attempt]) => ({ id, leaseId: attempt.leaseId }));
    renewLeases(ctx.pool, JOB_LEASES, leases, leaseMs).catch((error: unknown) =>
      warn(error, 'cannot renew job leases'),
    );
  }, leaseMs / 3);
  // The process lives for its server and connections, not for these timers.
  poll.unref();
  renew.unref();
  const unsubscribeDue = events.onJobsDue(wake);
  wake();

  return {
    async stop() {
      stopped = true;
      clearInterval(poll);
      unsubscribeDue();
      await claiming;
      const running = () => Promise.allSettled([...attempts.values()].map((attempt) => attempt.done));
      const waited = new AbortController();
      await Promise.race([
        running(),
        sleep(ctx.config.shutdownTimeoutMs * 0.6, undefined, { signal: waited.signal }).catch(
          () => undefined,
        ),
      ]);
      waited.abort();
      shutdown.abort();
      await running();
      clearInterval(renew);
      unsubscribeCancel();
    },
  };
}

interface Success {
  jobId: string;
  leaseId: string;
  result: unknown;
}

interface Attempt {
  controller: AbortController;
  leaseId: string;
  /** Settles once the attempt's outcome is recorded (or could not be). */
  done?: Promise<void>;
}

interface Runner {
  /** Aborted when the runner stops waiting for attempts at shutdown. */
  shutdown: AbortSignal;
  /** Ends a job as succeeded, unless it changed meanwhile (false): then `settle` decides. */
  succeeded(success: Success): Promise<boolean>;
}

async function runAttempt(ctx: AppContext, runner: Runner, claimed: ClaimedJob, controller: AbortController) {
  // Started by the claim, unless it was a lost attempt or is to be cancelled: those need a decision first.
  const job =
    claimed.claimed_from === 'queued' && claimed.cancel_requested_at === null
      ? claimed
      : await recover(ctx, claimed);
  if (!job) return;
  const limit = deadline(job.timeout_seconds * 1000);
  const timeout = limit.signal;
  const signal = AbortSignal.any([controller.signal, timeout, runner.shutdown]);
  const log = ctx.log.child({ jobId: job.id, jobType: job.type, attempt: job.attempts });
  let outcome: Outcome;
  try {
    const handler = findHandler(job.type);
    if (!handler) throw new PermanentJobError(`this worker has no handler for job type "${job.type}"`);
    const input = handler.input.parse(job.input);
    const progress = async (percent: number, message?: string) => {
      if (!Number.isFinite(percent) || percent < 0 || percent > 100)
        throw new RangeError('progress is 0–100');
      await recordProgress(ctx.pool, job.id, percent, message?.slice(0, 500) ?? null);
    };
    // A handler that ignores its signal still ends the attempt when the signal fires.
    const result = await untilAborted(
      handler.run(input, { progress, signal, log, attempt: job.attempts, outbound: ctx.outbound }),
      signal,
    );
    const refusal = jsonRefusal(result ?? null);
    outcome = refusal
      ? { kind: 'retry', error: `result is not storable: ${refusal}` }
      : { kind: 'succeeded', result: result ?? null };
  } catch (error) {
    outcome = classify(error, { cancelled: controller.signal, timeout, shutdown: runner.shutdown }, job);
  } finally {
    limit.clear();
  }
  log.debug({ outcome: outcome.kind }, 'job attempt finished');
  const ended =
    outcome.kind === 'succeeded' &&
    // A batch the database refused is settled again one job at a time, below.
    (await runner
      .succeeded({ jobId: job.id, leaseId: job.lease_id, result: outcome.result })
      .catch(() => false));
  if (ended) return;
  try {
    await settle(ctx, job, outcome);
  } catch (error) {
    // The database refused the record: the attempt still ends, as a failed one, with a second write that holds
    // nothing but plain text (if that fails too, the database is away: the lease runs out and the next claim
    // decides, with this attempt counted). Never left running, to be run again for the same reason.
    const reason = (error as Error).message;
    log.error({ err: error }, 'job attempt outcome not recorded; recording it as failed');
    await settle(ctx, job, {
      kind: 'retry',
      error:
        outcome.kind === 'succeeded' && isDataRefusal(error)
          ? `result is not storable: ${reason}`
          : `the attempt's outcome could not be recorded: ${reason}`,
    });
  }
}

/**
 * Decides on a claimed job that the claim did not simply start: returns it to run, or undefined when it
 * ended here (cancelled, or no attempt left) or is no longer ours.
 */
function recover(ctx: AppContext, claimed: ClaimedJob): Promise<JobRow | undefined> {
  return withTransaction(ctx.pool, async (tx) => {
    const row = await lockJob(tx, claimed.id);
    if (!row || row.lease_id !== claimed.lease_id || row.status !== 'running') return undefined;
    if (row.cancel_requested_at) {
      await endJob(ctx, tx, row, { status: 'cancelled' });
      return undefined;
    }
    if (claimed.claimed_from === 'queued') return row;
    // Leased while running: the worker of the previous attempt stopped before recording its outcome.
    if (row.attempts >= row.max_attempts) {
      await endJob(ctx, tx, row, {
        status: 'failed',
        error: 'the worker running the last attempt stopped before it finished',
      });
      return undefined;
    }
    return startAttempt(tx, row.id);
  });
}

function classify(
  error: unknown,
  signals: { cancelled: AbortSignal; timeout: AbortSignal; shutdown: AbortSignal },
  job: JobRow,
): Outcome {
  if (signals.cancelled.aborted) return { kind: 'cancelled' };
  if (signals.timeout.aborted) return { kind: 'retry', error: `timed out after ${job.timeout_seconds}s` };
  if (signals.shutdown.aborted) return { kind: 'interrupted' };
  const message = (error instanceof Error ? error.message : String(error)).slice(0, MAX_ERROR_LENGTH);
  if (error instanceof PermanentJobError) return { kind: 'failed', error: message };
  if (error instanceof RetryLaterError) return { kind: 'retry', error: message, delayMs: error.retryAfterMs };
  if (error instanceof Error && error.name === 'ZodError')
    return { kind: 'failed', error: `invalid input: ${message}` };
  return { kind: 'retry', error: message || 'the handler failed without a message' };
}

async function settle(ctx: AppContext, job: JobRow, outcome: Outcome): Promise<void> {
  await withTransaction(ctx.pool, async (tx) => {
    const row = await lockJob(tx, job.id);
    if (!row || row.lease_id !== job.lease_id || row.status !== 'running') return;
    // A cancel request that arrived while the handler finished anyway still wins: the client was told so.
    const final: Outcome = row.cancel_requested_at ? { kind: 'cancelled' } : outcome;
    switch (final.kind) {
      case 'succeeded':
        await endJob(ctx, tx, row, { status: 'succeeded', result: final.result });
        return;
      case 'cancelled':
        await endJob(ctx, tx, row, { status: 'cancelled' });
        return;
      case 'failed':
        await endJob(ctx, tx, row, { status: 'failed', error: final.error });
        return;
      case 'interrupted':
      case 'retry': {
        const interrupted = final.kind === 'interrupted';
        if (!interrupted && row.attempts >= row.max_attempts) {
          await endJob(ctx, tx, row, { status: 'failed', error: final.error });
          return;
        }
        const delayMs = interrupted
          ? 0
          : Math.min(
              ctx.config.jobRetryMaxMs,
              final.delayMs ??
                retryDelayMs(row.attempts, ctx.config.jobRetryBaseMs, ctx.config.jobRetryMaxMs),
            );
        const error = interrupted ? 'the worker stopped during the attempt; it will run again' : final.error;
        await requeueJob(tx, row.id, error, delayMs, interrupted);
        if (delayMs === 0) await notifyJobsDue(tx);
      }
    }
  });
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
