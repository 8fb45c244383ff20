// Lease renewal, one statement for both queues kept in our own tables: job attempts (`jobs`, migration 0005) and
// deliveries (`messages`, migration 0004); each queue says what a held lease is (job-queue.ts,
// delivery-queue.ts). A holder renews while it works, so that no other process's claim takes the row, and learns
// which of its leases it still holds.
import type pg from 'pg';
import type { Queryable } from './pool.ts';

/** A queue table, the columns its lease test reads, and what its locked rows (`l`) must be for a lease to count. */
export interface LeaseQueue {
  table: 'jobs' | 'messages';
  columns: string;
  held: string;
}

/** What a renewal found: leases moved forward, and leases whose rows were settled by their holder meanwhile. */
export interface Renewal {
  held: Set<string>;
  settled: Set<string>;
}

/**
 * Moves the leases still held forward by `leaseMs`. A lease in neither set of the answer was lost: its row was
 * claimed by another holder since (or resent). Gives up after `timeoutMs`: a renewal that cannot get through must
 * say so in time for its holder to stop before the lease runs out.
 */
export async function renewLeases(
  db: Queryable,
  queue: LeaseQueue,
  leases: Array<{ id: string; leaseId: string }>,
  leaseMs: number,
  timeoutMs: number,
): Promise<Renewal> {
  // Locked by primary key first, for the reason in delivery-queue.ts: a status test on the updated table may scan
  // a whole backlog through a status index.
  const query = {
    text: `with locked as materialized (
       select ${queue.columns} from ${queue.table} where id = any($1::text[]) order by id for update
     ), renewed as (
       update ${queue.table} t set next_attempt_at = now() + $3 * interval '1 millisecond'
         from locked l where t.id = l.id and l.lease_id = any($2::uuid[]) and ${queue.held}
     )
     select l.lease_id, ${queue.held} as held from locked l where l.lease_id = any($2::uuid[])`,
    values: [leases.map((lease) => lease.id), leases.map((lease) => lease.leaseId), leaseMs],
    // Read by pg at run time, not in its types: the pool discards the connection of a query that times out.
    query_timeout: timeoutMs,
  } as pg.QueryConfig;
  const { rows } = await db.query<{ lease_id: string; held: boolean }>(query);
  return {
    held: new Set(rows.filter((row) => row.held).map((row) => row.lease_id)),
    settled: new Set(rows.filter((row) => !row.held).map((row) => row.lease_id)),
  };
}
