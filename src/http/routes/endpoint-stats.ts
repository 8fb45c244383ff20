// An endpoint's recent delivery record, for the console's success rates and charts.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../context.ts';
import { idFloor, idParams } from '../../ids.ts';
import { endpointAttemptBuckets } from '../../store/delivery-stats.ts';
import { getEndpoint } from '../../store/endpoints.ts';
import { tenantOf } from '../auth.ts';
import { HttpProblem } from '../problem.ts';

const WINDOWS_MS = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 } as const;
/** Every window is cut into this many buckets: fine enough for a chart, few enough to draw. */
const BUCKETS = 24;

const statsView = z.object({
  endpointId: z.string(),
  since: z.string(),
  bucketSeconds: z.number(),
  succeeded: z.number(),
  failed: z.number(),
  successRate: z.number().nullable(),
  buckets: z.array(z.object({ start: z.string(), succeeded: z.number(), failed: z.number() })),
});

export function endpointStatsRoutes(ctx: AppContext): FastifyPluginAsyncZod {
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
      async (request) => {
        const endpoint = await getEndpoint(ctx.pool, tenantOf(request), request.params.id);
        if (!endpoint) throw new HttpProblem(404, `No endpoint ${request.params.id}.`);
        const windowMs = WINDOWS_MS[request.query.window];
        const bucketMs = windowMs / BUCKETS;
        const since = new Date(Date.now() - windowMs);
        // A message's attempts fall within the retry schedule's span after it was made: older messages are
        // not read (a replay of one is the exception these figures leave out).
        const span = ctx.config.deliveryRetryScheduleMs.reduce((sum, ms) => sum + ms, 0);
        const fromMessageId = idFloor('msg', new Date(since.getTime() - span));
        const buckets = await endpointAttemptBuckets(ctx.pool, endpoint.id, since, bucketMs, fromMessageId);
        const succeeded = buckets.reduce((n, b) => n + b.succeeded, 0);
        const failed = buckets.reduce((n, b) => n + b.failed, 0);
        return {
          endpointId: endpoint.id,
          since: since.toISOString(),
          bucketSeconds: bucketMs / 1000,
          succeeded,
          failed,
          successRate: succeeded + failed === 0 ? null : succeeded / (succeeded + failed),
          buckets: buckets.map((b) => ({
            start: b.start.toISOString(),
            succeeded: b.succeeded,
            failed: b.failed,
          })),
        };
      },
    );
  };
}
