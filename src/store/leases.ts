// Lease renewal for the two queues kept in our own tables: job attempts (`jobs`, migration 0005) and deliveries
// (`messages`, migration 0004). A holder renews while it works, so that no other process's claim takes the row.
import type { Queryable } from './pool.ts';

/** A queue table, and the status its rows keep while a lease on them counts. */
export type LeaseQueue = { table: 'jobs'; held: 'running' } | { table: 'messages'; held: 'pending' };

export const JOB_LEASES: LeaseQueue = { table: 'jobs', held: 'running' };
export const DELIVERY_LEASES: LeaseQueue = { table: 'messages', held: 'pending' };

/** Moves the leases still held forward by `leaseMs`; rows another holder has claimed since are left alone. */
export async function renewLeases(
  db: Queryable,
  queue: LeaseQueue,
  leases: Array<{ id: string; leaseId: string }>,
  leaseMs: number,
): Promise<void> {
  // Locked by primary key first, for the reason in messages.ts: a status test on the updated table may scan
  // a whole backlog through a status index.
  await db.query(
    `with locked as materialized (
       select id, lease_id, status from ${queue.table} where id = any($1::text[]) for update
     )
     update ${queue.table} t set next_attempt_at = now() + $3 * interval '1 millisecond'
       from locked l where t.id = l.id and l.lease_id = any($2::uuid[]) and l.status = '${queue.held}'`,
    [leases.map((lease) => lease.id), leases.map((lease) => lease.leaseId), leaseMs],
  );
}
