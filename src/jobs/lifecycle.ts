// Ending a job: its final state, its event, and the messages that deliver it, written in one transaction,
// so a finished job can never miss its webhooks.
import type { AppContext } from '../context.ts';
import { type Destinations, fanOut } from '../delivery/fan-out.ts';
import { getEndpoint } from '../store/endpoints.ts';
import { finishJob, insertJobEvent, type JobRow } from '../store/jobs.ts';
import type { Tx } from '../store/transaction.ts';
import { jobEventData } from './view.ts';

export type FinalOutcome =
  | { status: 'succeeded'; result: unknown }
  | { status: 'failed'; error: string }
  | { status: 'cancelled' };

async function destinations(tx: Tx, job: JobRow): Promise<Destinations> {
  if (job.callback_url) return { kind: 'callback', url: job.callback_url };
  if (job.endpoint_id) {
    // An endpoint deleted since submission still gets its message, which then dead-letters as endpoint_deleted.
    const endpoint = await getEndpoint(tx, job.tenant_id, job.endpoint_id);
    return { kind: 'endpoint', endpoint: endpoint ?? { id: job.endpoint_id, url: '' } };
  }
  return { kind: 'subscribers' };
}

/** Records the end of a job, its event and its messages; the caller holds the job's row lock in `tx`. */
export async function endJob(ctx: AppContext, tx: Tx, job: JobRow, outcome: FinalOutcome): Promise<JobRow> {
  const finished = await finishJob(tx, job.id, {
    status: outcome.status,
    result: outcome.status === 'succeeded' ? outcome.result : undefined,
    error: outcome.status === 'failed' ? outcome.error : null,
  });
  ctx.metrics.jobsFinished.inc({ status: outcome.status });
  const type = `job.${outcome.status}`;
  const data = jobEventData(finished);
  await insertJobEvent(tx, { tenantId: job.tenant_id, jobId: job.id, type, payload: data });
  await fanOut(
    ctx,
    tx,
    { tenantId: job.tenant_id, jobId: job.id, type, data },
    await destinations(tx, finished),
  );
  return finished;
}
