// A change to a schedule worked out from the schedule as it is, outside any transaction, then committed with the
// schedule locked, provided it has not changed since (`updated_at`); otherwise worked out again. Working it out
// may resolve a URL's name and read caches through the pool, neither of which should happen while a transaction
// holds a connection and the schedule's row.
import { Conflict } from '../errors.ts';
import type { Pool } from '../store/pool.ts';
import { getSchedule, lockSchedule, type ScheduleRow } from '../store/schedules.ts';
import { type Tx, withTransaction } from '../store/transaction.ts';

/** How often a schedule changed under us is worked out again before giving up (each try is milliseconds). */
const TRIES = 3;

/**
 * `prepare` works the change out from the schedule as read; `commit` applies it to the locked schedule. Answers
 * what `commit` did, or `undefined` when the schedule is gone (another tenant's reads as gone).
 */
export async function whileUnchanged<P, T>(
  pool: Pool,
  schedule: { tenantId: string | null; id: string },
  prepare: (seen: ScheduleRow) => Promise<P>,
  commit: (tx: Tx, locked: ScheduleRow, prepared: P) => Promise<T>,
): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    const seen = await getSchedule(pool, schedule.tenantId, schedule.id);
    if (!seen) return undefined;
    const prepared = await prepare(seen);
    const done = await withTransaction(pool, async (tx) => {
      const locked = await lockSchedule(tx, schedule.tenantId, schedule.id);
      if (!locked) return { gone: true as const };
      if (locked.updated_at.getTime() !== seen.updated_at.getTime()) return { changed: true as const };
      return { result: await commit(tx, locked, prepared) };
    });
    if ('result' in done) return done.result;
    if ('gone' in done) return undefined;
    if (attempt === TRIES) throw new Conflict('The schedule kept changing meanwhile; try again.');
  }
}
