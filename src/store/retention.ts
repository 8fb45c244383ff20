// SQL for retention: deletes old finished work in bounded batches, so no statement holds locks for long.
import type { Pool } from './pool.ts';

const BATCH = 5_000;

/** Deletes matching rows a batch at a time until none are left; returns how many. */
async function deleteInBatches(pool: Pool, sql: string, values: unknown[]): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await pool.query(sql, [...values, BATCH]);
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < BATCH) return total;
  }
}

export async function deleteOldWork(pool: Pool, olderThan: Date) {
  return {
    // Attempts go with their message (on delete cascade). Dead messages stay with their dead letters.
    messages: await deleteInBatches(
      pool,
      "delete from messages where id in (select id from messages where status = 'delivered' and delivered_at < $1 limit $2)",
      [olderThan],
    ),
    jobs: await deleteInBatches(
      pool,
      "delete from jobs where id in (select id from jobs where status in ('succeeded', 'failed', 'cancelled') and completed_at < $1 limit $2)",
      [olderThan],
    ),
    jobEvents: await deleteInBatches(
      pool,
      'delete from job_events where id in (select id from job_events where created_at < $1 limit $2)',
      [olderThan],
    ),
    idempotencyKeys: await deleteInBatches(
      pool,
      "delete from idempotency_keys where (tenant_id, key) in (select tenant_id, key from idempotency_keys where created_at < now() - interval '24 hours' limit $1)",
      [],
    ),
  };
}
