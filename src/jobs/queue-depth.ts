// How many jobs a tenant has queued, for the TENANT_MAX_QUEUED_JOBS cap, counted at most once a second per
// tenant and process: counting up to the cap on every submission cost more than the submission itself.
// Between counts each admitted job adds one, so one process alone never lets a tenant past its cap; several
// API processes together may overshoot by what they admit within a second, which a guard against runaway
// producers (not an exact quota) can accept.
import { LRUCache } from 'lru-cache';
import { countQueued } from '../store/jobs.ts';
import type { Pool } from '../store/pool.ts';

const RECOUNT_MS = 1_000;

export interface QueueDepth {
  /** Counts one more queued job for the tenant, or answers false when it already has `cap` queued. */
  admit(tenantId: string): Promise<boolean>;
}

export function createQueueDepth(pool: Pool, cap: number): QueueDepth {
  const cache = new LRUCache<string, { queued: number }>({
    max: 10_000,
    ttl: RECOUNT_MS,
    fetchMethod: async (tenantId) => ({ queued: await countQueued(pool, tenantId, cap) }),
  });
  return {
    async admit(tenantId) {
      const depth = await cache.fetch(tenantId);
      if (!depth) return true;
      if (depth.queued >= cap) return false;
      depth.queued += 1;
      return true;
    },
  };
}
