// Who an API key is, remembered for a few seconds: a database lookup per request was a fifth of intake's cost.
// A revocation anywhere notifies every process, which forgets all it remembers; the short lifetime bounds how
// long a key could outlive its revocation if that notification were lost.
import { LRUCache } from 'lru-cache';
import type { Notifications } from '../queue/notifications.ts';
import type { Pool } from '../store/pool.ts';
import { findPrincipalByKeyHash, type Principal } from '../store/tenants.ts';

/** Who a key stands for: its id, its tenant (none for the operator) and its role. */
export type { Principal };

const REMEMBER_MS = 5_000;
const MAX_KEYS = 10_000;

export interface PrincipalCache {
  find(keyHash: Buffer): Promise<Principal | undefined>;
  /** Forgets every key now: the process that revoked one must not wait for its own notification. */
  forget(): void;
}

export function createPrincipalCache(pool: Pool, notifications: Notifications): PrincipalCache {
  // Unknown keys are remembered too (as `principal: undefined`), so guessing costs no queries either.
  const cache = new LRUCache<string, { principal: Principal | undefined }>({
    max: MAX_KEYS,
    ttl: REMEMBER_MS,
    fetchMethod: async (key) => ({
      principal: await findPrincipalByKeyHash(pool, Buffer.from(key.slice(key.indexOf(':') + 1), 'hex')),
    }),
  });
  // Forgetting moves to a new generation of keys rather than clearing: clear() would abort the lookups in
  // flight (failing their requests), while the old generation's entries are simply never read again.
  let generation = 0;
  const forget = () => {
    generation += 1;
  };
  notifications.onKeysChange(forget);
  return {
    forget,
    async find(keyHash) {
      return (await cache.fetch(`${generation}:${keyHash.toString('hex')}`))?.principal;
    },
  };
}
