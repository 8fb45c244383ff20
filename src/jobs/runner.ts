// Runs job attempts from the pg-boss queue, fetched in batches: claim the jobs, run each handler under a
// timeout and a cancel signal, then record each outcome (and the next attempt or the job's end). The common
// cases, a queued job starting and a job succeeding, are written for many jobs per statement; every other
// case (cancel requests, retries, failures, a stale or lost attempt) takes its own transaction.
import type { Job } from 'pg-boss';
import type { AppContext } from '../context.ts';
import type { Claimer } from '../delivery/claimer.ts';
import { enqueueAttempt, JOB_QUEUE, type JobEntryData } from '../queue/job-queue.ts';
import { createBatcher } from '../store/batcher.ts';
import {
  cancelRequestedAmong,
  finishSucceeded,
  type JobRow,
  lockJob,
  recordProgress,
  requeueJob,
  startAttempt,
  startAttempts,
  TERMINAL,
} from '../store/jobs.ts';
import type { MessageRow } from '../store/messages.ts';
import { withTransaction } from '../store/transaction.ts';
import { deadline } from '../timeout.ts';
import { retryDelayMs } from './backoff.ts';
import { PermanentJobError, RetryLaterError } from './handler.ts';
import { announceEnds, endJob } from './lifecycle.ts';
import { findHandler } from './registry.ts';

/**
 * Entries one worker fetches at once. A batch's pg-boss slot frees when its slowest attempt ends, so the
 * batch is small enough that one slow job holds back few others, and large enough to amortise the fetch.
 */
const FETCH_BATCH = 25;

const MAX_ERROR_LENGTH = 1_000;

/** What an attempt came to; `settle` is the one place that acts on it. */
type Outcome =
  | { kind: 'succeeded'; result: unknown }
  | { kind: 'cancelled' }
  | { kind: 'failed'; error: string }
  | { kind: 'retry'; error: string; delayMs?: number }
  | { kind: 'interrupted' };

class Cancelled extends Error {}

/** `dispatcher`: this process's, when it delivers too, to hand finished jobs' messages to. */
export async function startJobRunner(ctx: AppContext, dispatcher?: Pick<Claimer, 'handoff'>): Promise<void> {
  const { events } = ctx;
  const running = new Map<string, AbortController>();
  events.onCancelRequest((jobId) => {
    if (jobId !== undefined) {
      running.get(jobId)?.abort(new Cancelled());
      return;
    }
    if (running.size === 0) return;
    cancelRequestedAmong(ctx.pool, [...running.keys()]).then(
      (ids) => {
        for (const id of ids) running.get(id)?.abort(new Cancelled());
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
            items.map((item) => ({ id: item.jobId, entryId: item.entryId, result: item.result })),
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
  const runner: Runner = { running, succeeded: (success) => succeeded.add(success) };

  const batchSize = Math.min(FETCH_BATCH, ctx.config.workerConcurrency);
  await ctx.boss.work<JobEntryData>(
    JOB_QUEUE,
    {
      batchSize,
      localConcurrency: Math.ceil(ctx.config.workerConcurrency / batchSize),
      // NOTIFY wakes workers for new entries, but an entry deferred by a retry backoff or runAt gets no
      // notification when it falls due: the backstop poll bounds that delay, so keep it short.
      pollingIntervalSeconds: 1,
      notifyPollingIntervalSeconds: 1,
      // With a backlog, a worker that just finished an entry fetches the next at once instead of sleeping out
      // the poll interval (which held a worker to one entry per second).
      burstWhenReadyExceeds: 1,
      // A full batch says more is waiting: fetch again at once.
      burstWhenBatchFull: true,
    },
    (entries) =>
      runBatch(ctx, runner, entries).catch((error: unknown) => {
        // pg-boss keeps the error on the entries and retries them; say so here too, or nobody would see it.
        ctx.log.warn(
          { err: error, entries: entries.length },
          'job batch failed; its entries will be retried',
        );
        throw error;
      }),
  );
}

interface Success {
  jobId: string;
  entryId: string;
  result: unknown;
}

interface Runner {
  /** The attempts running in this process, by job id, for cancel requests. */
  running: Map<string, AbortController>;
  /** Ends a job as succeeded, unless it changed meanwhile (false): then `settle` decides. */
  succeeded(success: Success): Promise<boolean>;
}

async function runBatch(ctx: AppContext, runner: Runner, entries: Array<Job<JobEntryData>>): Promise<void> {
  // Registered before the claim commits: a cancel request can only follow that commit (it locks the same
  // row), so its notification always finds the controller.
  const controllers = entries.map((entry) => {
    const controller = new AbortController();
    runner.running.set(entry.data.jobId, controller);
    return controller;
  });
  let started: Map<string, JobRow>;
  try {
    const rows = await startAttempts(
      ctx.pool,
      entries.map((entry) => ({ id: entry.data.jobId, entryId: entry.id })),
    );
    started = new Map(rows.map((row) => [row.id, row]));
  } catch (error) {
    entries.forEach((entry, i) => {
      releaseController(runner, entry, controllers[i] as AbortController);
    });
    throw error;
  }
  // pg-boss fails the whole batch when this rejects, and retries each entry: only stale ones are skipped then.
  const results = await Promise.allSettled(
    entries.map((entry, i) =>
      runEntry(ctx, runner, entry, controllers[i] as AbortController, started.get(entry.data.jobId)),
    ),
  );
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
}

/** A stale duplicate entry for the same job must not unregister the live attempt's controller. */
function releaseController(runner: Runner, entry: Job<JobEntryData>, controller: AbortController): void {
  if (runner.running.get(entry.data.jobId) === controller) runner.running.delete(entry.data.jobId);
}

async function runEntry(
  ctx: AppContext,
  runner: Runner,
  entry: Job<JobEntryData>,
  controller: AbortController,
  started: JobRow | undefined,
) {
  const release = () => releaseController(runner, entry, controller);
  // Not started by the batch claim: this one needs a decision of its own.
  const job =
    started ??
    (await claim(ctx, entry).catch((error: unknown) => {
      release();
      throw error;
    }));
  if (!job) {
    release();
    return;
  }
  const limit = deadline(job.timeout_seconds * 1000);
  const timeout = limit.signal;
  const signal = AbortSignal.any([controller.signal, timeout, entry.signal]);
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
    outcome = { kind: 'succeeded', result: result ?? null };
  } catch (error) {
    outcome = classify(error, { cancelled: controller.signal, timeout, shutdown: entry.signal }, job);
  } finally {
    limit.clear();
    release();
  }
  log.debug({ outcome: outcome.kind }, 'job attempt finished');
  const ended =
    outcome.kind === 'succeeded' &&
    // A batch the database refused is settled again one job at a time, below.
    (await runner.succeeded({ jobId: job.id, entryId: entry.id, result: outcome.result }).catch(() => false));
  if (!ended) await settle(ctx, entry, job, outcome);
}

/** Takes the job for this entry, or returns undefined when the entry is stale or the job needs no run. */
function claim(ctx: AppContext, entry: Job<JobEntryData>): Promise<JobRow | undefined> {
  return withTransaction(ctx.pool, async (tx) => {
    const row = await lockJob(tx, entry.data.jobId);
    if (!row || row.queue_entry_id !== entry.id || TERMINAL.has(row.status)) return undefined;
    if (row.cancel_requested_at) {
      await endJob(ctx, tx, row, { status: 'cancelled' });
      return undefined;
    }
    // Still 'running' means the worker of the previous attempt died before recording its outcome.
    if (row.status === 'running' && row.attempts >= row.max_attempts) {
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

async function settle(
  ctx: AppContext,
  entry: Job<JobEntryData>,
  job: JobRow,
  outcome: Outcome,
): Promise<void> {
  await withTransaction(ctx.pool, async (tx) => {
    const row = await lockJob(tx, job.id);
    if (!row || row.queue_entry_id !== entry.id || row.status !== 'running') return;
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
        const entryId = await enqueueAttempt(ctx.boss, tx, {
          id: row.id,
          timeoutSeconds: row.timeout_seconds,
          maxAttempts: row.max_attempts,
          priority: row.priority,
          startAfter: new Date(Date.now() + delayMs),
        });
        const error = interrupted ? 'the worker stopped during the attempt; it will run again' : final.error;
        await requeueJob(tx, row.id, error, entryId, interrupted);
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
