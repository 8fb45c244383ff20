// What the engine needs of a queue table: the same four operations for job attempts and for deliveries. The two
// implementations hold the SQL (`jobQueue` in store/job-queue.ts, `deliveryQueue` in store/delivery-queue.ts);
// test/store/queue-drivers.test.ts runs one contract against both.
import type { Renewal } from '../store/leases.ts';
import type { Queryable } from '../store/pool.ts';

/** A row held by a lease: its id, and the lease's id (each claim writes a fresh one). */
export interface Lease {
  id: string;
  leaseId: string;
}

/**
 * `Entry`: a claimed row; `Claim`: what a claim needs beyond its size and lease; `Done`: what records one
 * success; `Settled`: what a batch of successes answers.
 */
export interface QueueDriver<Entry, Claim, Done, Settled> {
  /** The table whose rows are the queue's entries (named in metrics and logs). */
  readonly table: 'jobs' | 'messages';
  /** Leases up to `limit` due entries for `leaseMs`. Rows another claim is taking are skipped. */
  claim(db: Queryable, claim: Claim & { limit: number; leaseMs: number }): Promise<Entry[]>;
  /** Moves the leases still held `leaseMs` ahead; says which are held and which were settled meanwhile. */
  renew(db: Queryable, leases: Lease[], leaseMs: number, timeoutMs: number): Promise<Renewal>;
  /**
   * Records the common outcome, success, of many entries in one statement, each only under its own lease. Entries
   * it hands the caller (the delivery queue: the next messages of ordering keys; the job queue hands none) are
   * leased to it for `leaseMs`.
   */
  settle(db: Queryable, done: Done[], leaseMs: number): Promise<Settled>;
  /** Gives an entry back, due at once and its attempt not counted; false if the lease no longer holds it. */
  release(db: Queryable, lease: Lease): Promise<boolean>;
}
