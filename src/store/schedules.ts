// SQL for schedules (migrations/0013_schedules.sql). pg-boss's own schedule rows are written beside these, in the
// same transaction, by src/schedules/timing.ts.
import type { Queryable } from './pool.ts';

export type Overlap = 'skip' | 'allow';

export interface ScheduleRow {
  id: string;
  tenant_id: string;
  name: string | null;
  cron: string;
  timezone: string;
  job: Record<string, unknown>;
  overlap: Overlap;
  paused: boolean;
  last_occurrence_at: Date | null;
  last_run_at: Date | null;
  last_job_id: string | null;
  fired_count: string;
  skipped_count: string;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
}

/** What a tenant sets on a schedule. */
export type ScheduleFields = Pick<ScheduleRow, 'name' | 'cron' | 'timezone' | 'job' | 'overlap' | 'paused'>;

export async function insertSchedule(
  db: Queryable,
  id: string,
  tenantId: string,
  fields: ScheduleFields,
): Promise<ScheduleRow> {
  const { rows } = await db.query<ScheduleRow>(
    `insert into schedules (id, tenant_id, name, cron, timezone, job, overlap, paused, last_occurrence_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, now()) returning *`,
    [id, tenantId, fields.name, fields.cron, fields.timezone, fields.job, fields.overlap, fields.paused],
  );
  return rows[0] as ScheduleRow;
}

/** `rearm`: the timing starts anew (resumed, or another expression or zone): earlier occurrences are not its. */
export async function updateSchedule(
  db: Queryable,
  id: string,
  fields: ScheduleFields,
  rearm: boolean,
): Promise<ScheduleRow> {
  const { rows } = await db.query<ScheduleRow>(
    `update schedules set name = $2, cron = $3, timezone = $4, job = $5, overlap = $6, paused = $7,
            last_occurrence_at = case when $8 then greatest(last_occurrence_at, now()) else last_occurrence_at end,
            updated_at = now()
      where id = $1 returning *`,
    [id, fields.name, fields.cron, fields.timezone, fields.job, fields.overlap, fields.paused, rearm],
  );
  return rows[0] as ScheduleRow;
}

async function selectSchedule(
  db: Queryable,
  tenantId: string | null,
  id: string,
  lock: boolean,
): Promise<ScheduleRow | undefined> {
  const { rows } = await db.query<ScheduleRow>(
    `select * from schedules where id = $1 and ($2::text is null or tenant_id = $2)${lock ? ' for update' : ''}`,
    [id, tenantId],
  );
  return rows[0];
}

/** A tenant's schedule (another tenant's id reads as missing); `tenantId` null when the caller is the scheduler. */
export function getSchedule(
  db: Queryable,
  tenantId: string | null,
  id: string,
): Promise<ScheduleRow | undefined> {
  return selectSchedule(db, tenantId, id, false);
}

/** The same, locked for a change or an occurrence until the transaction ends. */
export function lockSchedule(
  db: Queryable,
  tenantId: string | null,
  id: string,
): Promise<ScheduleRow | undefined> {
  return selectSchedule(db, tenantId, id, true);
}

export async function listSchedules(
  db: Queryable,
  tenantId: string,
  page: { before?: string; limit: number },
): Promise<ScheduleRow[]> {
  const { rows } = await db.query<ScheduleRow>(
    `select * from schedules where tenant_id = $1 and ($2::text is null or id < $2)
      order by id desc limit $3`,
    [tenantId, page.before ?? null, page.limit],
  );
  return rows;
}

/** Serialises the tenant's schedule creations until the transaction ends (the limit's count cannot be raced). */
export async function lockTenantSchedules(db: Queryable, tenantId: string): Promise<void> {
  await db.query(`select pg_advisory_xact_lock(hashtextextended('schedules:' || $1, 0))`, [tenantId]);
}

/** How many schedules the tenant has, counting no further than `cap`. */
export async function countSchedules(db: Queryable, tenantId: string, cap: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'select count(*)::int as n from (select 1 from schedules where tenant_id = $1 limit $2) s',
    [tenantId, cap],
  );
  return rows[0]?.n ?? 0;
}

export async function deleteSchedule(db: Queryable, id: string): Promise<void> {
  await db.query('delete from schedules where id = $1', [id]);
}

/** Whether the job is still queued or running (a job deleted by retention is neither). */
export async function jobInFlight(db: Queryable, jobId: string): Promise<boolean> {
  const { rows } = await db.query(`select 1 from jobs where id = $1 and status in ('queued', 'running')`, [
    jobId,
  ]);
  return rows.length > 0;
}

/**
 * Records what an occurrence came to: `jobId` when it made a job, else a skip (`error` says why, when the
 * template was refused). The cursor moves to `occurrence` either way, so a repeat of it does nothing.
 */
export async function recordOccurrence(
  db: Queryable,
  id: string,
  occurrence: Date,
  outcome: { jobId: string } | { skipped: true; error: string | null },
): Promise<void> {
  if ('jobId' in outcome) {
    await db.query(
      `update schedules set last_occurrence_at = $2, last_run_at = now(), last_job_id = $3,
              fired_count = fired_count + 1, last_error = null
        where id = $1`,
      [id, occurrence, outcome.jobId],
    );
  } else {
    await db.query(
      `update schedules set last_occurrence_at = $2, skipped_count = skipped_count + 1,
              last_error = coalesce($3, last_error)
        where id = $1`,
      [id, occurrence, outcome.error],
    );
  }
}

/** A job made outside the cron (trigger): the schedule's latest job, without moving its occurrence cursor. */
export async function recordTriggered(db: Queryable, id: string, jobId: string): Promise<void> {
  await db.query('update schedules set last_run_at = now(), last_job_id = $2 where id = $1', [id, jobId]);
}
