// Ending a job: its final state, its event, and the messages that deliver it, written in one transaction,
// so a finished job can never miss its webhooks.
import type { Needs } from '../context.ts';
import type { Handoff } from '../delivery/claimer.ts';
import { type Destinations, fanOutMany } from '../delivery/fan-out.ts';
import { type EndpointRow, endpointsByIds } from '../store/endpoints.ts';
import { finishJob, insertJobEvents, type JobRow } from '../store/jobs.ts';
import type { MessageRow } from '../store/messages.ts';
import type { Tx } from '../store/transaction.ts';
import { jobEventData } from './event-data.ts';

export type FinalOutcome =
  | { status: 'succeeded'; result: unknown }
  | { status: 'failed'; error: string }
  | { status: 'cancelled' };

function destinations(job: JobRow, endpoints: Map<string, EndpointRow>): Destinations {
  if (job.callback_url) return { kind: 'callback', url: job.callback_url };
  if (job.endpoint_id) {
    // An endpoint deleted since submission still gets its message, which then dead-letters as endpoint_deleted.
    const endpoint = endpoints.get(job.endpoint_id);
    const owned = endpoint?.tenant_id === job.tenant_id ? endpoint : undefined;
    return { kind: 'endpoint', endpoint: owned ?? { id: job.endpoint_id, url: '' } };
  }
  return { kind: 'subscribers' };
}

/** Records the end of a job, its event and its messages; the caller holds the job's row lock in `tx`. */
export async function endJob(
  ctx: Needs<'metrics'>,
  tx: Tx,
  job: JobRow,
  outcome: FinalOutcome,
): Promise<JobRow> {
  const finished = await finishJob(tx, job.id, {
    status: outcome.status,
    result: outcome.status === 'succeeded' ? outcome.result : undefined,
    error: outcome.status === 'failed' ? outcome.error : null,
  });
  await announceEnds(ctx, tx, [finished]);
  return finished;
}

/**
 * Writes the events and messages of jobs that just ended (their rows as finished), a statement each; returns
 * the messages written leased to `handoff`'s dispatcher, for the caller to hand over after the commit.
 */
export async function announceEnds(
  ctx: Needs<'metrics'>,
  tx: Tx,
  finished: JobRow[],
  handoff?: Handoff,
): Promise<MessageRow[]> {
  if (finished.length === 0) return [];
  const events = finished.map((job) => {
    ctx.metrics.jobsFinished.inc({ status: job.status });
    return {
      tenantId: job.tenant_id,
      jobId: job.id,
      type: `job.${job.status}`,
      data: jobEventData(job),
      orderingKey: job.ordering_key,
    };
  });
  await insertJobEvents(
    tx,
    events.map((e) => ({ tenantId: e.tenantId, jobId: e.jobId, type: e.type, payload: e.data })),
  );
  const endpointIds = [...new Set(finished.flatMap((job) => (job.endpoint_id ? [job.endpoint_id] : [])))];
  const endpoints = endpointIds.length > 0 ? await endpointsByIds(tx, endpointIds) : new Map();
  const { leased } = await fanOutMany(
    tx,
    events.map((event, i) => ({ event, to: destinations(finished[i] as JobRow, endpoints) })),
    handoff,
  );
  return leased;
}
