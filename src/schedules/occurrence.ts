// Turning a schedule into a job: at each occurrence pg-boss sends (src/schedules/timing.ts), and on demand
// (trigger). An occurrence is handled in one transaction under the schedule's lock, and its time only moves the
// schedule's cursor forward, so however often pg-boss sends it (two passes, a send repeated after a crash, an
// occurrence job retried) it makes at most one job.
import type { JobWithMetadata } from 'pg-boss';
import type { Needs } from '../context.ts';
import { InvalidRequest, QuotaExceeded, Unprocessable } from '../errors.ts';
import { admitJob, type JobSubmission, prepareJob } from '../jobs/intake.ts';
import { insertJob, type JobRow } from '../store/jobs.ts';
import {
  jobInFlight,
  lockSchedule,
  recordOccurrence,
  recordTriggered,
  type ScheduleRow,
} from '../store/schedules.ts';
import { withTransaction } from '../store/transaction.ts';
import { isRun, occurrenceAt } from './recurrence.ts';
import { type OccurrenceData, SCHEDULE_QUEUE } from './timing.ts';

type MakeJobNeeds = Needs<'config' | 'intake' | 'jobTypes' | 'outbound' | 'tenantTypes'>;

/** The job the schedule's template makes now; throws as POST /v1/jobs would refuse it (400, 422, 429). */
async function jobOf(ctx: MakeJobNeeds, schedule: ScheduleRow) {
  const job = await prepareJob(ctx, schedule.tenant_id, schedule.job as unknown as JobSubmission, {
    inputPath: 'body.job',
    scheduleId: schedule.id,
  });
  await admitJob(ctx, schedule.tenant_id);
  return job;
}

function refusal(error: unknown): string | undefined {
  if (error instanceof InvalidRequest || error instanceof Unprocessable || error instanceof QuotaExceeded) {
    return error.message;
  }
  return undefined;
}

export type OccurrenceOutcome = 'fired' | 'overlap' | 'refused' | 'paused' | 'repeat' | 'gone';

/** Handles one occurrence of a schedule, which pg-boss sent at `sentAt` (its job's creation). */
export async function handleOccurrence(
  ctx: MakeJobNeeds & Needs<'log' | 'metrics' | 'pool'>,
  scheduleId: string,
  sentAt: Date,
): Promise<OccurrenceOutcome> {
  const outcome = await withTransaction(ctx.pool, async (tx) => {
    const schedule = await lockSchedule(tx, null, scheduleId);
    // Deleted or paused since pg-boss sent it: its pg-boss row went with that change.
    if (!schedule) return { outcome: 'gone' as const };
    if (schedule.paused) return { outcome: 'paused' as const };
    // Sent after its occurrence (by the pass interval, or by a catch-up): the occurrence is the latest one at or
    // before the send.
    const occurrence = occurrenceAt(schedule.cron, schedule.timezone, sentAt);
    if (
      (schedule.last_occurrence_at && occurrence <= schedule.last_occurrence_at) ||
      !isRun(schedule.cron, schedule.timezone, occurrence)
    ) {
      return { outcome: 'repeat' as const };
    }
    if (
      schedule.overlap === 'skip' &&
      schedule.last_job_id &&
      (await jobInFlight(tx, schedule.last_job_id))
    ) {
      await recordOccurrence(tx, schedule.id, occurrence, { skipped: true, error: null });
      return { outcome: 'overlap' as const, schedule };
    }
    let job: Awaited<ReturnType<typeof jobOf>>;
    try {
      job = await jobOf(ctx, schedule);
    } catch (error) {
      const reason = refusal(error);
      if (reason === undefined) throw error;
      await recordOccurrence(tx, schedule.id, occurrence, { skipped: true, error: reason });
      return { outcome: 'refused' as const, schedule, reason };
    }
    const row = await insertJob(tx, job);
    await recordOccurrence(tx, schedule.id, occurrence, { jobId: row.id });
    return { outcome: 'fired' as const, schedule, row, occurrence };
  });
  ctx.metrics.scheduleOccurrences.inc({ outcome: outcome.outcome });
  if (outcome.outcome === 'fired') {
    const lagSeconds = (outcome.row.created_at.getTime() - outcome.occurrence.getTime()) / 1000;
    ctx.metrics.scheduleLag.observe(lagSeconds);
    ctx.log.debug(
      { scheduleId, jobId: outcome.row.id, occurrence: outcome.occurrence, lagSeconds },
      'schedule occurrence made its job',
    );
  } else if (outcome.outcome === 'refused') {
    // The reason names the template's problem (type, endpoint, URL policy), never its input or metadata.
    ctx.log.warn({ scheduleId, reason: outcome.reason }, 'schedule occurrence made no job: template refused');
  }
  return outcome.outcome;
}

/** A job now, outside the cron (POST /v1/schedules/:id/trigger); refused as POST /v1/jobs would refuse it. */
export async function triggerSchedule(
  ctx: MakeJobNeeds & Needs<'pool'>,
  tenantId: string,
  scheduleId: string,
): Promise<JobRow | undefined> {
  return withTransaction(ctx.pool, async (tx) => {
    const schedule = await lockSchedule(tx, tenantId, scheduleId);
    if (!schedule) return undefined;
    const row = await insertJob(tx, await jobOf(ctx, schedule));
    await recordTriggered(tx, schedule.id, row.id);
    return row;
  });
}

/** Makes the jobs of the occurrences pg-boss sends, on this worker process. */
export async function startOccurrences(
  ctx: MakeJobNeeds & Needs<'boss' | 'log' | 'metrics' | 'pool'>,
): Promise<void> {
  await ctx.boss.work(
    SCHEDULE_QUEUE,
    { includeMetadata: true, batchSize: 10, pollingIntervalSeconds: 1 } as const,
    async (jobs: JobWithMetadata<OccurrenceData>[]) => {
      // One at a time: each is a short transaction, and a failure sends the batch again (repeats are no-ops).
      for (const job of jobs) await handleOccurrence(ctx, job.data.scheduleId, job.createdOn);
    },
  );
}
