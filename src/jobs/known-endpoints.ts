// Whether a tenant has an endpoint, for validating a submitted job's endpointId, remembered for a few seconds:
// a lookup per submission was one query in five of intake. An endpoint deleted within those seconds may still
// be named by a job; its message then dead-letters as endpoint_deleted, as for one deleted after submission.
import { LRUCache } from 'lru-cache';
import { getEndpoint } from '../store/endpoints.ts';
import type { Pool } from '../store/pool.ts';

const REMEMBER_MS = 5_000;

export interface KnownEndpoints {
  has(tenantId: string, endpointId: string): Promise<boolean>;
}

export function createKnownEndpoints(pool: Pool): KnownEndpoints {
  const cache = new LRUCache<string, { exists: boolean }, { tenantId: string; endpointId: string }>({
    max: 10_000,
    ttl: REMEMBER_MS,
    fetchMethod: async (_key, _stale, { context }) => ({
      exists: (await getEndpoint(pool, context.tenantId, context.endpointId)) !== undefined,
    }),
  });
  return {
    async has(tenantId, endpointId) {
      const found = await cache.fetch(`${tenantId}/${endpointId}`, { context: { tenantId, endpointId } });
      return found?.exists ?? false;
    },
  };
}
