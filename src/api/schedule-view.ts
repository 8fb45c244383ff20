// The schedule as the API shows it: its schema (the contract's, in the OpenAPI document) and the mapping from its
// row, with its next runs.
import { z } from 'zod';
import type { Needs } from '../context.ts';
import { nextRuns } from '../schedules/recurrence.ts';
import type { ScheduleRow } from '../store/schedules.ts';

export const overlap = z
  .enum(['skip', 'allow'])
  .describe('skip (default): an occurrence makes no job while the previous job is queued or running');

export const scheduleView = z.object({
  id: z.string(),
  name: z.string().nullable(),
  cron: z.string(),
  timezone: z.string(),
  job: z.record(z.string(), z.unknown()),
  overlap,
  paused: z.boolean(),
  nextRuns: z.array(z.string()).describe('the next five occurrences (none while paused)'),
  lastRunAt: z.string().nullable().describe('when the schedule last made a job (an occurrence or a trigger)'),
  lastJobId: z.string().nullable(),
  lastError: z
    .string()
    .nullable()
    .describe(
      'why the latest refused occurrence made no job (its template no longer accepted); null once one makes a job',
    ),
  occurrences: z
    .object({ fired: z.number(), skipped: z.number() })
    .describe('occurrences that made a job, and those skipped (overlap, or a refused template)'),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export type ScheduleView = z.infer<typeof scheduleView>;

/**
 * The next runs as ISO times; none if the preview gives up (pg-boss bounds it by time, which a busy machine may
 * exceed): a view of the schedule must not fail over it, least of all after a change has been written.
 */
function previewOf(ctx: Needs<'boss'>, row: ScheduleRow): string[] {
  try {
    return nextRuns(ctx.boss, row.cron, row.timezone).map((run) => run.toISOString());
  } catch {
    return [];
  }
}

export function viewSchedule(ctx: Needs<'boss'>, row: ScheduleRow): ScheduleView {
  return {
    id: row.id,
    name: row.name,
    cron: row.cron,
    timezone: row.timezone,
    job: row.job,
    overlap: row.overlap,
    paused: row.paused,
    // A paused schedule has no runs ahead until it is resumed.
    nextRuns: row.paused ? [] : previewOf(ctx, row),
    lastRunAt: row.last_run_at?.toISOString() ?? null,
    lastJobId: row.last_job_id,
    lastError: row.last_error,
    occurrences: { fired: Number(row.fired_count), skipped: Number(row.skipped_count) },
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
