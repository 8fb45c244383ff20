// An endpoint's recent delivery record, for the console's success rates and charts.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Needs } from '../../context.ts';
import { endpointStats } from '../../endpoints/stats.ts';
import { idParams } from '../../ids.ts';
import { tenantOf } from '../auth.ts';

const WINDOWS_MS = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 } as const;

const statsView = z.object({
  endpointId: z.string(),
  since: z.string(),
  bucketSeconds: z.number(),
  succeeded: z.number(),
  failed: z.number(),
  successRate: z.number().nullable(),
  buckets: z.array(z.object({ start: z.string(), succeeded: z.number(), failed: z.number() })),
});

export function endpointStatsRoutes(ctx: Needs<'config' | 'pool'>): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/endpoints/:id/stats',
      {
        schema: {
          tags: ['endpoints'],
          summary:
            "An endpoint's delivery attempts over a recent window: totals, success rate and 24 buckets",
          security: [{ bearer: [] }],
          params: idParams('ep'),
          querystring: z.object({ window: z.enum(['1h', '24h', '7d']).default('24h') }),
          response: { 200: statsView },
        },
      },
      async (request) =>
        endpointStats(ctx, tenantOf(request), request.params.id, WINDOWS_MS[request.query.window]),
    );
  };
}
