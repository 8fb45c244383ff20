// pg-boss keeps each active schedule's timing: one row in its schedule table (queue SCHEDULE_QUEUE, key = our
// schedule's id), written in the same transaction as ours so the two never disagree. Its cron pass (one worker
// process at a time, every SCHEDULE_CHECK_INTERVAL) sends a job to the queue for each due occurrence, filed under
// a one-minute singleton slot so that two processes' passes make one; `missed: 'once'` makes a single catch-up
// job for the occurrences missed while no worker ran. A paused schedule has no pg-boss row: resuming writes a new
// one, whose creation bounds the catch-up, so the time spent paused is not caught up.
import type { PgBoss } from 'pg-boss';
import type { Tx } from '../store/transaction.ts';

export const SCHEDULE_QUEUE = 'hookrelay-schedules';

/** What pg-boss sends at each occurrence. */
export interface OccurrenceData {
  scheduleId: string;
}

/** Runs pg-boss's statements on our transaction. */
function onTransaction(tx: Tx) {
  return { executeSql: async (text: string, values?: unknown[]) => tx.query(text, values) };
}

export async function createScheduleQueue(boss: PgBoss): Promise<void> {
  // Making a job takes one short transaction: a minute before pg-boss takes an occurrence for lost and sends it
  // again (src/schedules/occurrence.ts makes a repeat a no-op), and retries spread over about half an hour.
  await boss.createQueue(SCHEDULE_QUEUE, {
    expireInSeconds: 60,
    retryLimit: 10,
    retryDelay: 2,
    retryBackoff: true,
    retryDelayMax: 600,
  });
}

/** Starts (or moves) the schedule's timing in pg-boss, inside the transaction that writes the schedule. */
export async function armTiming(
  boss: PgBoss,
  tx: Tx,
  schedule: { id: string; cron: string; timezone: string },
): Promise<void> {
  const data: OccurrenceData = { scheduleId: schedule.id };
  await boss.schedule(SCHEDULE_QUEUE, schedule.cron, data, {
    tz: schedule.timezone,
    key: schedule.id,
    missed: 'once',
    db: onTransaction(tx),
  });
}

/** Stops the schedule's timing (pause, delete), inside the transaction that writes the schedule. */
export async function disarmTiming(boss: PgBoss, tx: Tx, id: string): Promise<void> {
  await boss.unschedule(SCHEDULE_QUEUE, id, { db: onTransaction(tx) });
}
