// Cancelling a job: a queued one ends at once, and so does one running outside this service (remote, push); one
// running in a worker process is told to abort, wherever it runs.
import type { Needs } from '../context.ts';
import { JobFinished, JobNotFound } from '../errors.ts';
import { type JobRow, lockJob, requestCancel, TERMINAL } from '../store/jobs.ts';
import { notifyCancelled } from '../store/task-queue.ts';
import { withTransaction } from '../store/transaction.ts';
import { endJob } from './lifecycle.ts';
import { waitForJob } from './watch.ts';

/** How long the request waits for a running job's handler to stop before answering with its state. */
const RUNNING_CANCEL_WAIT_MS = 5_000;

export async function cancelJob(
  ctx: Needs<'metrics' | 'notifications' | 'pool'>,
  tenantId: string,
  id: string,
  draining: AbortSignal,
): Promise<JobRow> {
  const outcome = await withTransaction(ctx.pool, async (tx) => {
    const row = await lockJob(tx, id);
    if (!row || row.tenant_id !== tenantId) throw new JobNotFound(id);
    if (TERMINAL.has(row.status)) throw new JobFinished(row.status);
    if (row.status === 'queued') return { ended: await endJob(ctx, tx, row, { status: 'cancelled' }) };
    // A remote or push attempt's worker is not ours to wait for: the job ends now, the worker hears it at its
    // next report (409), and a push POST still in flight here is aborted.
    if (row.execution === 'remote' || row.execution === 'push') {
      const ended = await endJob(ctx, tx, row, { status: 'cancelled' });
      await notifyCancelled(tx, id);
      return { ended };
    }
    await requestCancel(tx, id);
    return { ended: undefined };
  });
  if (outcome.ended) return outcome.ended;
  const job = await waitForJob(
    ctx,
    tenantId,
    id,
    (row) => TERMINAL.has(row.status),
    RUNNING_CANCEL_WAIT_MS,
    draining,
  );
  if (!job) throw new JobNotFound(id);
  return job;
}
