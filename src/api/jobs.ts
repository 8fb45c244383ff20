// What the API does with a tenant's jobs, apart from HTTP: submit, list, show (waiting for the end if asked),
// the result, a stream of changes, cancel. Each answers with the job as the API shows it (job-view.ts), and
// refuses with a domain error (src/errors.ts) that the HTTP layer turns into a status.
import type { Needs } from '../context.ts';
import { Conflict, JobNotFound } from '../errors.ts';
import { cancelJob } from '../jobs/cancel.ts';
import { type JobSubmission, submitJob } from '../jobs/intake.ts';
import { waitForJob } from '../jobs/watch.ts';
import { getJob, type JobRow, type JobStatus, listJobs, TERMINAL } from '../store/jobs.ts';
import { type JobView, statusUrlOf, viewJob } from './job-view.ts';

/** The job as a 202 (or a replay's 200) shows it. */
export interface AcceptedView {
  id: string;
  status: JobStatus;
  statusUrl: string;
  createdAt: string;
}

export async function submit(
  ctx: Needs<'config' | 'intake' | 'jobTypes' | 'outbound' | 'pool' | 'tenantTypes'>,
  tenantId: string,
  submission: JobSubmission,
  idempotencyKey: string | undefined,
): Promise<{ job: AcceptedView; replayed: boolean }> {
  const { job, replayed } = await submitJob(ctx, tenantId, submission, idempotencyKey);
  return {
    job: {
      id: job.id,
      status: job.status,
      statusUrl: statusUrlOf(job.id),
      createdAt: job.created_at.toISOString(),
    },
    replayed,
  };
}

/** One page, newest first: `limit` of them (ask for one more to learn whether a next page exists). */
export async function list(
  ctx: Needs<'pool'>,
  tenantId: string,
  filter: Parameters<typeof listJobs>[2],
): Promise<JobView[]> {
  return (await listJobs(ctx.pool, tenantId, filter)).map(viewJob);
}

async function existing(ctx: Needs<'pool'>, tenantId: string, id: string): Promise<JobRow> {
  const job = await getJob(ctx.pool, tenantId, id);
  if (!job) throw new JobNotFound(id);
  return job;
}

/** The job now, or, with `waitMs`, once it has ended or the time has passed (a long poll). */
export async function show(
  ctx: Needs<'notifications' | 'pool'>,
  tenantId: string,
  id: string,
  waitMs: number,
  draining: AbortSignal,
): Promise<JobView> {
  const job =
    waitMs === 0
      ? await getJob(ctx.pool, tenantId, id)
      : await waitForJob(ctx, tenantId, id, (row) => TERMINAL.has(row.status), waitMs, draining);
  if (!job) throw new JobNotFound(id);
  return viewJob(job);
}

export async function result(ctx: Needs<'pool'>, tenantId: string, id: string): Promise<unknown> {
  const job = await existing(ctx, tenantId, id);
  if (job.status !== 'succeeded')
    throw new Conflict(`The job is ${job.status}; a result exists only once it has succeeded.`);
  return job.result;
}

/**
 * The job's changes as a stream source (src/http/sse.ts): a `status` event when its status changes, `progress`
 * otherwise, ending after its end. Throws JobNotFound before anything is streamed.
 */
export async function follow(
  ctx: Needs<'notifications' | 'pool'>,
  tenantId: string,
  id: string,
  draining: AbortSignal,
) {
  const first = await existing(ctx, tenantId, id);
  return {
    stop: AbortSignal.any([draining, ctx.notifications.closing]),
    subscribe: (onChange: () => void) => ctx.notifications.onJobChange(first.id, onChange),
    read: () => getJob(ctx.pool, tenantId, first.id),
    version: (job: JobRow) => job.version,
    event: (job: JobRow, previous: JobRow | undefined) => ({
      type: previous && previous.status === job.status ? 'progress' : 'status',
      data: viewJob(job),
    }),
    isLast: (job: JobRow) => TERMINAL.has(job.status),
  };
}

export async function cancel(
  ctx: Needs<'metrics' | 'notifications' | 'pool'>,
  tenantId: string,
  id: string,
  draining: AbortSignal,
): Promise<JobView> {
  return viewJob(await cancelJob(ctx, tenantId, id, draining));
}
