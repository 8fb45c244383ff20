// Progress of a running attempt, wherever it runs: recorded on the job under the attempt's lease (which notifies
// SSE streams and long polls) and, in the same transaction, sent as `job.progress` webhooks to the endpoints that
// list that event (an opt-in event: a job's callbackUrl receives only its end).
import type { Needs } from '../context.ts';
import { fanOutMany } from '../delivery/fan-out.ts';
import { JOB_EVENTS } from '../event-types.ts';
import { subscribedEndpoints } from '../store/endpoints.ts';
import { recordProgress } from '../store/job-queue.ts';
import type { JobRow } from '../store/jobs.ts';
import type { Tx } from '../store/transaction.ts';
import { withTransaction } from '../store/transaction.ts';
import { jobEventData } from './event-data.ts';

export interface Progress {
  percent: number;
  message: string | null;
}

/** The job's progress event, to the endpoints that asked for it; written in the caller's transaction. */
export async function announceProgress(tx: Tx, job: JobRow): Promise<void> {
  if (job.callback_url) return;
  const subscribed = await subscribedEndpoints(tx, job.tenant_id, 'job.progress', JOB_EVENTS);
  // A job sent to one endpoint tells only that one, and only if it lists the event.
  const targets = job.endpoint_id ? subscribed.filter((e) => e.id === job.endpoint_id) : subscribed;
  if (targets.length === 0) return;
  const event = {
    tenantId: job.tenant_id,
    jobId: job.id,
    type: 'job.progress',
    orderingKey: job.ordering_key,
    data: {
      ...jobEventData(job),
      progress: { percent: job.progress_percent, message: job.progress_message },
    },
  };
  await fanOutMany(
    tx,
    targets.map((endpoint) => ({ event, to: { kind: 'endpoint', endpoint } })),
  );
}

/** Records progress of an in-process attempt holding `job.lease_id`; undefined when it no longer holds the job. */
export function reportProgress(
  ctx: Needs<'pool'>,
  job: Pick<JobRow, 'id' | 'lease_id'>,
  progress: Progress,
): Promise<JobRow | undefined> {
  return withTransaction(ctx.pool, async (tx) => {
    const row = await recordProgress(tx, job.id, job.lease_id, progress.percent, progress.message);
    if (row) await announceProgress(tx, row);
    return row;
  });
}
