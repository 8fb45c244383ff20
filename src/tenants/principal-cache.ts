// Who an API key is, remembered for a few seconds: a database lookup per request was a fifth of intake's cost.
// A revocation anywhere notifies every process, which forgets all it remembers; the short lifetime bounds how
// long a key could outlive its revocation if that notification were lost. The same notification ends the
// event streams and long polls that a revoked key opened.
import { LRUCache } from 'lru-cache';
import type { Notifications } from '../queue/notifications.ts';
import type { Pool } from '../store/pool.ts';
import { findPrincipalByKeyHash, type Principal, revokedKeyIds } from '../store/tenants.ts';

/** Who a key stands for: its id, its tenant (none for the operator) and its role. */
export type { Principal };

const REMEMBER_MS = 5_000;
const MAX_KEYS = 10_000;
/** Longer than a request takes from its authentication to its wait (the cache's own lifetime bounds the rest). */
const REMEMBER_REVOKED_MS = 60_000;

export interface PrincipalCache {
  find(keyHash: Buffer): Promise<Principal | undefined>;
  /** Forgets every key now: the process that revoked one must not wait for its own notification. */
  forget(): void;
  /**
   * A signal aborted when the key is revoked, for a response that outlives its authentication (an event
   * stream, a long poll). `release` when the response ends.
   */
  watch(keyId: string): { signal: AbortSignal; release(): void };
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
  const watched = new Map<string, Set<AbortController>>();
  /**
   * Keys revoked lately, by when: a request authenticated just before a revocation reached this process may
   * start waiting just after it, and must not wait on.
   */
  const revokedLately = new Map<string, number>();
  const end = (keyId: string) => {
    const now = Date.now();
    for (const [id, at] of revokedLately) if (now - at > REMEMBER_REVOKED_MS) revokedLately.delete(id);
    revokedLately.set(keyId, now);
    for (const controller of watched.get(keyId) ?? []) controller.abort(new Error(`key ${keyId} revoked`));
    watched.delete(keyId);
  };
  notifications.onKeysChange((keyId) => {
    forget();
    if (keyId !== undefined) return end(keyId);
    // After a reconnect, revocations may have been missed: ask about the keys that hold responses open.
    if (watched.size > 0)
      revokedKeyIds(pool, [...watched.keys()]).then(
        (ids) => ids.forEach(end),
        () => undefined,
      );
  });
  return {
    forget,
    watch(keyId) {
      const controller = new AbortController();
      if (revokedLately.has(keyId)) {
        controller.abort(new Error(`key ${keyId} revoked`));
        return { signal: controller.signal, release: () => undefined };
      }
      const holders = watched.get(keyId) ?? new Set();
      holders.add(controller);
      watched.set(keyId, holders);
      return {
        signal: controller.signal,
        release() {
          holders.delete(controller);
          if (holders.size === 0 && watched.get(keyId) === holders) watched.delete(keyId);
        },
      };
    },
    async find(keyHash) {
      return (await cache.fetch(`${generation}:${keyHash.toString('hex')}`))?.principal;
    },
  };
}
