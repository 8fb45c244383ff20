// Turning a schedule into a job: at each occurrence pg-boss sends (src/schedules/timing.ts), and on demand
// (trigger). An occurrence is recorded in one transaction under the schedule's lock, and its time only moves the
// schedule's cursor forward, so however often pg-boss sends it (two passes, a send repeated after a crash, an
// occurrence job retried) it makes at most one job.
//
// The job is worked out before the schedule is locked (src/schedules/unchanged.ts).
import type { JobWithMetadata } from 'pg-boss';
import type { Needs } from '../context.ts';
import { InvalidRequest, QuotaExceeded, Unprocessable } from '../errors.ts';
import { admitJob, type JobSubmission, prepareJob } from '../jobs/intake.ts';
import { insertJob, type JobRow, type NewJob } from '../store/jobs.ts';
import { jobInFlight, recordOccurrence, recordTriggered, type ScheduleRow } from '../store/schedules.ts';
import { isRun, occurrenceAt } from './recurrence.ts';
import { type OccurrenceData, SCHEDULE_QUEUE } from './timing.ts';
import { whileUnchanged } from './unchanged.ts';

type MakeJobNeeds = Needs<'config' | 'intake' | 'jobTypes' | 'outbound' | 'pool' | 'tenantTypes'>;

/** pg-boss's queue for forwarding due occurrences (timekeeper.js, QUEUES.SEND_IT). */
const SEND_IT_QUEUE = '__pgboss__send-it';

/** How far ahead of the database's clock pg-boss's may be when it sends an occurrence. */
const CLOCK_SLACK_MS = 2_000;

/** The job the schedule's template makes now, or why POST /v1/jobs would refuse it (400, 422, 429). */
async function jobOf(ctx: MakeJobNeeds, schedule: ScheduleRow): Promise<NewJob | { refused: Error }> {
  try {
    const job = await prepareJob(ctx, schedule.tenant_id, schedule.job as unknown as JobSubmission, {
      inputPath: 'body.job',
      scheduleId: schedule.id,
    });
    await admitJob(ctx, schedule.tenant_id);
    return job;
  } catch (error) {
    if (error instanceof InvalidRequest || error instanceof Unprocessable || error instanceof QuotaExceeded) {
      return { refused: error };
    }
    throw error;
  }
}

export type OccurrenceOutcome = 'fired' | 'overlap' | 'refused' | 'paused' | 'repeat' | 'not_a_run' | 'gone';

type Handled =
  | { outcome: 'fired'; row: JobRow; occurrence: Date }
  | { outcome: 'refused'; reason: string }
  | { outcome: Exclude<OccurrenceOutcome, 'fired' | 'refused'> };

/** Handles one occurrence of a schedule, which pg-boss sent at `sentAt` (its job's creation). */
export async function handleOccurrence(
  ctx: MakeJobNeeds & Needs<'boss' | 'log' | 'metrics'>,
  scheduleId: string,
  sentAt: Date,
): Promise<OccurrenceOutcome> {
  const handled: Handled = (await whileUnchanged(
    ctx.pool,
    { tenantId: null, id: scheduleId },
    (seen) => jobOf(ctx, seen),
    async (tx, schedule, job): Promise<Handled> => {
      // Paused since pg-boss sent it: its pg-boss row went with that change.
      if (schedule.paused) return { outcome: 'paused' };
      // pg-boss sends an occurrence once it is due by its clock, which may run a little ahead of the database's
      // that dates the send: the latest occurrence at or just after the send.
      const occurrence = occurrenceAt(
        schedule.cron,
        schedule.timezone,
        new Date(sentAt.getTime() + CLOCK_SLACK_MS),
      );
      if (schedule.last_occurrence_at && occurrence <= schedule.last_occurrence_at)
        return { outcome: 'repeat' };
      // The hour the fall-back repeats: pg-boss's pass finds its time again an hour later (recurrence.ts).
      if (!isRun(schedule.cron, schedule.timezone, occurrence)) return { outcome: 'not_a_run' };
      if (
        schedule.overlap === 'skip' &&
        schedule.last_job_id &&
        (await jobInFlight(tx, schedule.last_job_id))
      ) {
        await recordOccurrence(tx, schedule.id, occurrence, { skipped: true, error: null });
        return { outcome: 'overlap' };
      }
      if ('refused' in job) {
        await recordOccurrence(tx, schedule.id, occurrence, { skipped: true, error: job.refused.message });
        return { outcome: 'refused', reason: job.refused.message };
      }
      const row = await insertJob(tx, job);
      await recordOccurrence(tx, schedule.id, occurrence, { jobId: row.id });
      return { outcome: 'fired', row, occurrence };
    },
  )) ?? { outcome: 'gone' };
  ctx.metrics.scheduleOccurrences.inc({ outcome: handled.outcome });
  if (handled.outcome === 'fired') {
    const lagSeconds = (handled.row.created_at.getTime() - handled.occurrence.getTime()) / 1000;
    ctx.metrics.scheduleLag.observe(lagSeconds);
    ctx.log.debug(
      { scheduleId, jobId: handled.row.id, occurrence: handled.occurrence, lagSeconds },
      'schedule occurrence made its job',
    );
  } else if (handled.outcome === 'refused') {
    // The reason names the template's problem (type, endpoint, URL policy), never its input or metadata.
    ctx.log.warn({ scheduleId, reason: handled.reason }, 'schedule occurrence made no job: template refused');
  } else if (handled.outcome === 'gone') {
    // Deleted with its tenant (a cascade that pg-boss's row does not follow): stop its timing, on pg-boss's own
    // connection (nothing of ours to keep in step with).
    await ctx.boss.unschedule(SCHEDULE_QUEUE, scheduleId);
  }
  return handled.outcome;
}

/** A job now, outside the cron (POST /v1/schedules/:id/trigger); refused as POST /v1/jobs would refuse it. */
export async function triggerSchedule(
  ctx: MakeJobNeeds,
  tenantId: string,
  scheduleId: string,
): Promise<JobRow | undefined> {
  return whileUnchanged(
    ctx.pool,
    { tenantId, id: scheduleId },
    (seen) => jobOf(ctx, seen),
    async (tx, schedule, job) => {
      if ('refused' in job) throw job.refused;
      const row = await insertJob(tx, job);
      await recordTriggered(tx, schedule.id, row.id);
      return row;
    },
  );
}

/** Makes the jobs of the occurrences pg-boss sends, on this worker process. */
export async function startOccurrences(ctx: MakeJobNeeds & Needs<'boss' | 'log' | 'metrics'>): Promise<void> {
  // pg-boss forwards each due occurrence through its send-it queue, whose jobs a killed process holds for the
  // queue's expiry (15 minutes by default) before another sends them: an occurrence sent that late would stand for
  // a later one (handleOccurrence). Forwarding takes milliseconds; a minute is ample.
  await ctx.boss.updateQueue(SEND_IT_QUEUE, { expireInSeconds: 60 });
  await ctx.boss.work(
    SCHEDULE_QUEUE,
    {
      includeMetadata: true,
      batchSize: 20,
      // A minute's occurrences of many schedules arrive at once: fetch again at once while batches come full,
      // rather than a batch a second.
      burstWhenBatchFull: true,
      pollingIntervalSeconds: 1,
      perJobResults: true,
    } as const,
    async (jobs: JobWithMetadata<OccurrenceData>[]) => {
      // Each settled on its own: one that fails (the database away) is retried without holding up the others.
      const results = [];
      for (const job of jobs) {
        try {
          await handleOccurrence(ctx, job.data.scheduleId, job.createdOn);
          results.push({ id: job.id, status: 'completed' as const });
        } catch (error) {
          ctx.log.warn(
            { err: error, scheduleId: job.data.scheduleId },
            'schedule occurrence failed; retried',
          );
          results.push({ id: job.id, status: 'failed' as const });
        }
      }
      return results;
    },
  );
}
