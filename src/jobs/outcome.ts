// What an attempt came to, wherever it ran (in this process, on a remote worker, behind a push URL), and the one
// place that acts on it: the job's end, or its return to the queue for another attempt.
import type { Needs } from '../context.ts';
import { jobQueue, notifyJobsDue, notifyRemoteDue, requeueJob } from '../store/job-queue.ts';
import type { JobRow } from '../store/jobs.ts';
import type { Tx } from '../store/transaction.ts';
import { retryDelayMs } from './backoff.ts';
import { endJob } from './lifecycle.ts';

export type Outcome =
  | { kind: 'succeeded'; result: unknown }
  | { kind: 'cancelled' }
  | { kind: 'failed'; error: string }
  | { kind: 'retry'; error: string; delayMs?: number }
  | { kind: 'interrupted' };

/**
 * Records `outcome` for a running job whose row the caller holds locked in `tx`, under the attempt's lease:
 * the job's end, or the job queued again after a delay (the retry policy's, or the one asked for, capped), or,
 * for an attempt interrupted by its worker's shutdown, given back uncounted. A cancel request wins over any
 * other outcome: the client was told the job would stop. Returns the row as it is now.
 */
export async function applyOutcome(
  ctx: Needs<'config' | 'metrics'>,
  tx: Tx,
  row: JobRow,
  outcome: Outcome,
): Promise<JobRow> {
  const final: Outcome = row.cancel_requested_at ? { kind: 'cancelled' } : outcome;
  switch (final.kind) {
    case 'succeeded':
      return endJob(ctx, tx, row, { status: 'succeeded', result: final.result });
    case 'cancelled':
      return endJob(ctx, tx, row, { status: 'cancelled' });
    case 'failed':
      return endJob(ctx, tx, row, { status: 'failed', error: final.error });
    case 'interrupted':
      // Given back uncounted, due at once, for another worker.
      await jobQueue.release(tx, { id: row.id, leaseId: row.lease_id });
      return row;
    case 'retry': {
      if (row.attempts >= row.max_attempts)
        return endJob(ctx, tx, row, { status: 'failed', error: final.error });
      const delayMs = Math.min(
        ctx.config.jobRetryMaxMs,
        final.delayMs ?? retryDelayMs(row.attempts, ctx.config.jobRetryBaseMs, ctx.config.jobRetryMaxMs),
      );
      const queued = await requeueJob(tx, row.id, final.error, delayMs);
      if (delayMs === 0) {
        if (row.execution === 'remote') await notifyRemoteDue(tx, row.tenant_id);
        else await notifyJobsDue(tx);
      }
      return queued ?? row;
    }
  }
}

/**
 * A remote or push attempt whose lease ran out: a failed attempt, retried with backoff (or the job's end after
 * its last). Its deadline, when that is what ended the lease, is named as a timeout.
 */
export function lapsed(row: JobRow, leaseEndedAt: Date | null): Outcome {
  const timedOut =
    row.attempt_deadline !== null &&
    leaseEndedAt !== null &&
    leaseEndedAt.getTime() >= row.attempt_deadline.getTime();
  return {
    kind: 'retry',
    error: timedOut
      ? `timed out after ${row.timeout_seconds}s`
      : `the worker's lease lapsed: no heartbeat or report within ${row.heartbeat_seconds}s`,
  };
}
