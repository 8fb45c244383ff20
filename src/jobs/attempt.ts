import { fetch } from 'undici';
import type { AppContext, Needs } from '../context.ts';
import { isDatabaseUnavailable } from '../errors.ts';
import { LeaseLost } from '../queue/lease-keeper.ts';
import { isDataRefusal, jsonRefusal } from '../storable.ts';
import { type ClaimedJob, startAttempt } from '../store/job-queue.ts';
import { type JobRow, lockJob } from '../store/jobs.ts';
import { withTransaction } from '../store/transaction.ts';
import { deadline, untilAborted } from '../timeout.ts';
import { isPermanent, isRetryLater, PermanentJobError } from './handler.ts';
import { endJob } from './lifecycle.ts';
import { applyOutcome, lapsed, type Outcome } from './outcome.ts';
import { reportProgress } from './progress.ts';
import { type PushEnd, pushAttempt } from './push.ts';

const MAX_ERROR_LENGTH = 1_000;

/** A handler still running this long after its attempt was aborted ignores its signal: logged and counted. */
const OVERRUN_MS = 10_000;

/**
 * What an attempt came to (outcome.ts), or that it records nothing: its lease was lost (another worker may hold
 * the job), or a push attempt was handed over to its task token (push.ts).
 */
type AttemptOutcome = PushEnd;

export class Cancelled extends Error {}

export interface Success {
  jobId: string;
  leaseId: string;
  result: unknown;
}

export interface Attempt {
  controller: AbortController;
  leaseId: string;
  /** Settles once the attempt's outcome is recorded (or could not be). */
  done?: Promise<void>;
  /**
   * Settles when the handler has returned, which may be long after the attempt was aborted; set when the handler
   * starts, before the attempt's outcome can be recorded.
   */
  handler?: Promise<unknown>;
}

export interface Runner {
  /** Aborted when the runner stops waiting for attempts at shutdown. */
  shutdown: AbortSignal;
  /** Ends a job as succeeded, unless it changed meanwhile (false): then `settle` decides. */
  succeeded(success: Success): Promise<boolean>;
}

export async function runAttempt(
  ctx: Needs<
    | 'config'
    | 'deliveryOutbound'
    | 'jobTypes'
    | 'log'
    | 'metrics'
    | 'outbound'
    | 'pool'
    | 'secrets'
    | 'tenantTypes'
  >,
  runner: Runner,
  claimed: ClaimedJob,
  attempt: Attempt,
) {
  const { controller } = attempt;
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
  let outcome: AttemptOutcome;
  try {
    outcome =
      job.execution === 'push'
        ? await pushAttempt(ctx, job, signal)
        : await runHandler(ctx, job, attempt, signal, log);
  } catch (error) {
    outcome = classify(error, { cancelled: controller.signal, timeout, shutdown: runner.shutdown }, job);
  } finally {
    limit.clear();
  }
  log.debug({ outcome: outcome.kind }, 'job attempt finished');
  if (outcome.kind === 'lost' || outcome.kind === 'handed-over') return;
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
    // A second write, so that the attempt ends now instead of when its lease runs out (and if that fails too,
    // the next claim decides, with this attempt counted). A connection lost on the way: the same record again.
    // The database refused the record: the attempt ends as a failed one, in plain text, never left running to
    // be run again for the same reason.
    if (isDatabaseUnavailable(error)) {
      log.warn({ err: error }, 'job attempt outcome not recorded; trying once more');
      await settle(ctx, job, outcome);
      return;
    }
    const reason = (error as Error).message;
    log.error({ err: error }, 'job attempt outcome refused by the database; recording it as failed');
    await settle(ctx, job, {
      kind: 'retry',
      error:
        outcome.kind === 'succeeded' && isDataRefusal(error)
          ? `result is not storable: ${reason}`
          : `the attempt's outcome could not be recorded: ${reason}`,
    });
  }
}

/** Runs the job's handler in this process; throws what the handler throws, for `classify`. */
async function runHandler(
  ctx: Needs<'jobTypes' | 'metrics' | 'outbound' | 'pool'>,
  job: JobRow,
  attempt: Attempt,
  signal: AbortSignal,
  log: AppContext['log'],
): Promise<Outcome> {
  const handler = ctx.jobTypes.find(job.type);
  // Retried, not failed: during a rolling deploy that adds a task, a worker of the old version may claim it.
  if (!handler) throw new Error(`this worker has no job type "${job.type}" (is its task folder loaded?)`);
  const parsed = handler.input.safeParse(job.input);
  // Checked at submission; failing now means the schema changed since: no attempt can succeed.
  if (!parsed.success) throw new PermanentJobError(`invalid input: ${parsed.error.message}`);
  const progress = async (percent: number, message?: string) => {
    if (!Number.isFinite(percent) || percent < 0 || percent > 100) throw new RangeError('progress is 0–100');
    // Written only while the lease is this attempt's: a worker that lost it must not report onto the next.
    const recorded = await reportProgress(ctx, job, { percent, message: message?.slice(0, 500) ?? null });
    if (!recorded) {
      attempt.controller.abort(new LeaseLost(`the lease on ${job.id} was lost: progress not recorded`));
      throw signal.reason;
    }
  };
  const running = handler.run(parsed.data, {
    progress,
    signal,
    log,
    attempt: job.attempts,
    outbound: ctx.outbound,
    fetch: (resource, init) =>
      fetch(resource, {
        ...init,
        dispatcher: ctx.outbound.agent,
        signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal,
      }),
  });
  const returned = running.then(
    () => undefined,
    () => undefined,
  );
  attempt.handler = returned;
  watchOverrun(ctx, returned, signal, log);
  // A handler that ignores its signal still ends the attempt when the signal fires (its slot stays taken).
  const result = await untilAborted(running, signal);
  const refusal = jsonRefusal(result ?? null);
  return refusal
    ? { kind: 'retry', error: `result is not storable: ${refusal}` }
    : { kind: 'succeeded', result: result ?? null };
}

/**
 * Decides on a claimed job that the claim did not simply start: returns it to run, or undefined when it
 * ended here (cancelled, or no attempt left) or is no longer ours.
 */
function recover(
  ctx: Needs<'config' | 'metrics' | 'pool'>,
  claimed: ClaimedJob,
): Promise<JobRow | undefined> {
  return withTransaction(ctx.pool, async (tx) => {
    const row = await lockJob(tx, claimed.id);
    if (!row || row.lease_id !== claimed.lease_id || row.status !== 'running') return undefined;
    if (row.cancel_requested_at) {
      await endJob(ctx, tx, row, { status: 'cancelled' });
      return undefined;
    }
    if (claimed.claimed_from === 'queued') return row;
    // A push attempt's lease ran out (its worker stopped heartbeating after answering 202, or this service
    // stopped during the POST): a failed attempt, retried with backoff like any other.
    if (row.execution === 'push') {
      await applyOutcome(
        ctx,
        tx,
        row,
        claimed.handed_over_before === null
          ? { kind: 'retry', error: 'the worker process pushing the attempt stopped before its answer' }
          : lapsed(row, claimed.lease_ended_at),
      );
      return undefined;
    }
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
): AttemptOutcome {
  if (signals.cancelled.reason instanceof LeaseLost) return { kind: 'lost' };
  if (signals.cancelled.aborted) return { kind: 'cancelled' };
  if (signals.timeout.aborted) return { kind: 'retry', error: `timed out after ${job.timeout_seconds}s` };
  if (signals.shutdown.aborted) return { kind: 'interrupted' };
  const message = (error instanceof Error ? error.message : String(error)).slice(0, MAX_ERROR_LENGTH);
  if (isPermanent(error)) return { kind: 'failed', error: message };
  if (isRetryLater(error)) return { kind: 'retry', error: message, delayMs: error.retryAfterMs };
  return { kind: 'retry', error: message || 'the handler failed without a message' };
}

async function settle(
  ctx: Needs<'config' | 'metrics' | 'pool'>,
  job: JobRow,
  outcome: Outcome,
): Promise<void> {
  await withTransaction(ctx.pool, async (tx) => {
    const row = await lockJob(tx, job.id);
    if (!row || row.lease_id !== job.lease_id || row.status !== 'running') return;
    await applyOutcome(ctx, tx, row, outcome);
  });
}

/** Logs and counts a handler that keeps running long after its attempt was aborted. */
function watchOverrun(
  ctx: Needs<'metrics'>,
  returned: Promise<unknown>,
  signal: AbortSignal,
  log: AppContext['log'],
) {
  let overrunning = false;
  const watch = () => {
    const timer = setTimeout(() => {
      overrunning = true;
      ctx.metrics.handlerOverruns.inc();
      ctx.metrics.handlersOverrunning.inc();
      log.warn(
        { overrunMs: OVERRUN_MS, reason: String(signal.reason) },
        'job handler still running after its attempt was aborted: it ignores its signal, and keeps a worker slot',
      );
    }, OVERRUN_MS);
    timer.unref();
    void returned.finally(() => {
      clearTimeout(timer);
      if (overrunning) ctx.metrics.handlersOverrunning.dec();
    });
  };
  if (signal.aborted) watch();
  else signal.addEventListener('abort', watch, { once: true });
  void returned.finally(() => signal.removeEventListener('abort', watch));
}
