// What the API does with a tenant's schedules: create, list, show, change, pause, resume, trigger and delete.
// Each change writes our row and pg-boss's timing (src/schedules/timing.ts) in one transaction.
import type { Needs } from '../context.ts';
import { InvalidRequest, NotFound, Unprocessable } from '../errors.ts';
import { newId } from '../ids.ts';
import { type JobSubmission, prepareJob } from '../jobs/intake.ts';
import { triggerSchedule } from '../schedules/occurrence.ts';
import { canonicalZone, parseCron } from '../schedules/recurrence.ts';
import { armTiming, disarmTiming } from '../schedules/timing.ts';
import { whileUnchanged } from '../schedules/unchanged.ts';
import {
  countSchedules,
  deleteSchedule,
  getSchedule,
  insertSchedule,
  listSchedules,
  lockSchedule,
  lockTenantSchedules,
  type Overlap,
  type ScheduleFields,
  type ScheduleRow,
  updateSchedule,
} from '../store/schedules.ts';
import { type Tx, withTransaction } from '../store/transaction.ts';
import { type ScheduleView, viewSchedule } from './schedule-view.ts';

/** A schedule as created; PATCH gives any of these (a job replaces the template whole). */
export interface ScheduleInput {
  name?: string | null;
  cron: string;
  timezone?: string;
  job: JobSubmission;
  overlap?: Overlap;
  paused?: boolean;
}

type Ctx = Needs<'boss' | 'config' | 'intake' | 'jobTypes' | 'outbound' | 'pool' | 'tenantTypes'>;

class ScheduleNotFound extends NotFound {
  constructor(id: string) {
    super(`No schedule ${id}.`);
  }
}

/**
 * Checks what a schema cannot (the expression, the zone, and, unless `check.job` is false, the job as POST
 * /v1/jobs would) and answers the row's fields. Runs outside any transaction: checking a URL may resolve its name.
 */
async function fieldsOf(
  ctx: Ctx,
  tenantId: string,
  input: ScheduleInput,
  check: { job: boolean } = { job: true },
): Promise<ScheduleFields> {
  const parsed = parseCron(input.cron);
  if ('problem' in parsed) {
    throw new InvalidRequest('The cron expression is not valid.', [
      { path: 'body.cron', message: parsed.problem },
    ]);
  }
  const timezone = canonicalZone(input.timezone ?? 'UTC');
  if (!timezone) {
    throw new InvalidRequest('The time zone is not known.', [
      { path: 'body.timezone', message: 'must be an IANA time zone name, like Europe/Berlin or UTC' },
    ]);
  }
  if (check.job) await prepareJob(ctx, tenantId, input.job, { inputPath: 'body.job' });
  return {
    name: input.name ?? null,
    cron: parsed.cron,
    timezone,
    job: input.job as unknown as Record<string, unknown>,
    overlap: input.overlap ?? 'skip',
    paused: input.paused ?? false,
  };
}

/** Writes pg-boss's timing to match the row: armed while the schedule runs, none while it is paused. */
async function syncTiming(ctx: Needs<'boss'>, tx: Tx, row: ScheduleRow): Promise<void> {
  if (row.paused) await disarmTiming(ctx.boss, tx, row.id);
  else await armTiming(ctx.boss, tx, row);
}

export async function create(ctx: Ctx, tenantId: string, input: ScheduleInput): Promise<ScheduleView> {
  const fields = await fieldsOf(ctx, tenantId, input);
  const row = await withTransaction(ctx.pool, async (tx) => {
    // One creation at a time per tenant, so the count below cannot be raced past the limit.
    await lockTenantSchedules(tx, tenantId);
    const limit = ctx.config.tenantMaxSchedules;
    if ((await countSchedules(tx, tenantId, limit)) >= limit) {
      throw new Unprocessable(`This tenant has ${limit} schedules, the most allowed; delete one first.`);
    }
    const inserted = await insertSchedule(tx, newId('sch'), tenantId, fields);
    await syncTiming(ctx, tx, inserted);
    return inserted;
  });
  return viewSchedule(ctx, row);
}

export async function list(
  ctx: Needs<'boss' | 'pool'>,
  tenantId: string,
  page: { before?: string; limit: number },
): Promise<ScheduleView[]> {
  return (await listSchedules(ctx.pool, tenantId, page)).map((row) => viewSchedule(ctx, row));
}

export async function show(ctx: Needs<'boss' | 'pool'>, tenantId: string, id: string): Promise<ScheduleView> {
  const row = await getSchedule(ctx.pool, tenantId, id);
  if (!row) throw new ScheduleNotFound(id);
  return viewSchedule(ctx, row);
}

/**
 * Changes what is given; the rest stays. What is given is checked as for a new schedule (the template only when
 * a `job` is given), from the schedule as it is, and written if it is still that schedule.
 */
export async function update(
  ctx: Ctx,
  tenantId: string,
  id: string,
  change: Partial<ScheduleInput>,
): Promise<ScheduleView> {
  const row = await whileUnchanged(
    ctx.pool,
    { tenantId, id },
    (before) =>
      fieldsOf(
        ctx,
        tenantId,
        {
          name: change.name === undefined ? before.name : change.name,
          cron: change.cron ?? before.cron,
          timezone: change.timezone ?? before.timezone,
          job: (change.job ?? before.job) as unknown as JobSubmission,
          overlap: change.overlap ?? before.overlap,
          paused: change.paused ?? before.paused,
        },
        { job: change.job !== undefined },
      ),
    (tx, locked, fields) => apply(ctx, tx, locked, fields),
  );
  if (!row) throw new ScheduleNotFound(id);
  return viewSchedule(ctx, row);
}

/** Pauses or resumes; the schedule otherwise stays as it is (its template is not checked again). */
export async function setPaused(
  ctx: Needs<'boss' | 'pool'>,
  tenantId: string,
  id: string,
  paused: boolean,
): Promise<ScheduleView> {
  const row = await withTransaction(ctx.pool, async (tx) => {
    const locked = await lockSchedule(tx, tenantId, id);
    if (!locked) throw new ScheduleNotFound(id);
    return apply(ctx, tx, locked, { ...locked, paused });
  });
  return viewSchedule(ctx, row);
}

/** Writes `next` over the locked schedule, and pg-boss's timing with it. */
async function apply(
  ctx: Needs<'boss'>,
  tx: Tx,
  row: ScheduleRow,
  next: ScheduleFields,
): Promise<ScheduleRow> {
  const rearm = !next.paused && (row.paused || next.cron !== row.cron || next.timezone !== row.timezone);
  const updated = await updateSchedule(tx, row.id, next, rearm);
  // Resuming writes pg-boss's row anew; pausing again or changing a paused schedule leaves none.
  if (updated.paused !== row.paused || !updated.paused) await syncTiming(ctx, tx, updated);
  return updated;
}

export async function trigger(ctx: Ctx, tenantId: string, id: string): Promise<{ jobId: string }> {
  const job = await triggerSchedule(ctx, tenantId, id);
  if (!job) throw new ScheduleNotFound(id);
  return { jobId: job.id };
}

/** Deletes the schedule and its timing; the jobs it made stay (still listed by its id). */
export async function remove(ctx: Needs<'boss' | 'pool'>, tenantId: string, id: string): Promise<void> {
  await withTransaction(ctx.pool, async (tx) => {
    if (!(await lockSchedule(tx, tenantId, id))) throw new ScheduleNotFound(id);
    await disarmTiming(ctx.boss, tx, id);
    await deleteSchedule(tx, id);
  });
}
