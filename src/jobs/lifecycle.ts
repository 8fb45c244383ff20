// Ending a job: its final state and the event the delivery side sends, written in one transaction.
import { finishJob, insertJobEvent, type JobRow } from '../store/jobs.ts';
import type { Tx } from '../store/transaction.ts';
import { jobEventData } from './view.ts';

export type FinalOutcome =
  | { status: 'succeeded'; result: unknown }
  | { status: 'failed'; error: string }
  | { status: 'cancelled' };

/** Records the end of a job and its outbox event; the caller holds the job's row lock in `tx`. */
export async function endJob(
  tx: Tx,
  job: Pick<JobRow, 'id' | 'tenant_id'>,
  outcome: FinalOutcome,
): Promise<JobRow> {
  const finished = await finishJob(tx, job.id, {
    status: outcome.status,
    result: outcome.status === 'succeeded' ? outcome.result : undefined,
    error: outcome.status === 'failed' ? outcome.error : null,
  });
  await insertJobEvent(tx, {
    tenantId: job.tenant_id,
    jobId: job.id,
    type: `job.${outcome.status}`,
    payload: jobEventData(finished),
  });
  return finished;
}
