// Keeps the leases a process holds on queue rows (job attempts, deliveries) and tells it when one is lost, so
// that it stops the work: another process may be doing it already. A lease is lost when a renewal answers that
// it is no longer held (the row was claimed again, settled or resent), or when renewals have not got through
// for so long that the lease may have run out in the database (a partition, a database that does not answer):
// then the holder must assume the worst, a little before the lease's end by its own clock.

import { isDatabaseUnavailable } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Pool } from '../store/pool.ts';
import type { QueueDriver } from './driver.ts';

/** The reason an attempt is aborted with when its lease is lost. */
export class LeaseLost extends Error {
  override name = 'LeaseLost';
}

export interface LeaseKeeper {
  /**
   * Keeps a lease from now on. `since`: when the statement that took it was sent (its end in the database is at
   * least a lease after that). `onLost` is called at most once, unless `release` came first.
   */
  hold(lease: { id: string; leaseId: string; since: number }, onLost: (reason: LeaseLost) => void): void;
  /** Stops keeping a lease (its outcome is recorded, or it was given back). */
  release(leaseId: string): void;
  stop(): void;
}

interface Held {
  id: string;
  /** By this process's clock: when the lease surely still runs in the database. */
  until: number;
  onLost: (reason: LeaseLost) => void;
}

/** How often held leases are checked against their end by this process's clock. */
const CHECK_MS = 250;
/** How soon a renewal that failed is tried again. */
const RETRY_MS = 1_000;

export function keepLeases(options: {
  pool: Pool;
  queue: Pick<QueueDriver<unknown, unknown, unknown, unknown>, 'table' | 'renew'>;
  leaseMs: number;
  log: Logger;
  metrics: Metrics;
}): LeaseKeeper {
  const { pool, queue, leaseMs, log, metrics } = options;
  const held = new Map<string, Held>();
  // Renew three times a lease; a renewal gives up after half the interval, and one that failed is tried again
  // soon after (a second, or sooner for short leases), so a stall of several seconds costs no long lease. Stop a
  // little before the end, and at least two checks before it: a timer may fire late, and clocks drift.
  const renewEveryMs = leaseMs / 3;
  const renewTimeoutMs = renewEveryMs / 2;
  const retryMs = Math.min(RETRY_MS, renewEveryMs / 2);
  const marginMs = Math.max(2 * CHECK_MS, Math.min(2_000, leaseMs / 10));
  let renewing = false;

  function lose(leaseId: string, why: string): void {
    const lease = held.get(leaseId);
    if (!lease) return;
    held.delete(leaseId);
    metrics.leasesLost.inc({ queue: queue.table });
    log.warn({ queue: queue.table, id: lease.id, why }, 'lease lost: stopping its work');
    lease.onLost(new LeaseLost(`the lease on ${lease.id} was lost: ${why}`));
  }

  async function renew(): Promise<void> {
    if (renewing || held.size === 0) return;
    renewing = true;
    const sent = Date.now();
    const asked = [...held].map(([leaseId, lease]) => ({ id: lease.id, leaseId }));
    try {
      const renewal = await queue.renew(pool, asked, leaseMs, renewTimeoutMs);
      for (const { leaseId } of asked) {
        const lease = held.get(leaseId);
        if (!lease) continue; // released meanwhile
        if (renewal.held.has(leaseId)) lease.until = Math.max(lease.until, sent + leaseMs);
        // Its outcome was recorded while the renewal was on its way: its holder releases it in a moment.
        else if (renewal.settled.has(leaseId)) held.delete(leaseId);
        else lose(leaseId, 'another holder claimed it since, or it was resent');
      }
    } catch (error) {
      // Kept by the clock until the end it surely has; checked below.
      const msg = `cannot renew ${queue.table} leases; trying again shortly`;
      if (isDatabaseUnavailable(error)) log.warn({ err: error }, msg);
      else log.error({ err: error }, msg);
      setTimeout(() => void renew(), retryMs).unref();
    } finally {
      renewing = false;
    }
  }

  const renewal = setInterval(() => void renew(), renewEveryMs);
  const check = setInterval(() => {
    const now = Date.now();
    for (const [leaseId, lease] of held) {
      if (now >= lease.until - marginMs) lose(leaseId, 'renewals did not get through before it ran out');
    }
  }, CHECK_MS);
  // The process lives for its server and connections, not for these timers.
  renewal.unref();
  check.unref();

  return {
    hold(lease, onLost) {
      held.set(lease.leaseId, { id: lease.id, until: lease.since + leaseMs, onLost });
    },
    release(leaseId) {
      held.delete(leaseId);
    },
    stop() {
      clearInterval(renewal);
      clearInterval(check);
    },
  };
}
