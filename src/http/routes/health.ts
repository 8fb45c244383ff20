// Liveness and readiness probes for orchestrators and load balancers.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notReady } from '../../api/readiness.ts';
import type { Needs } from '../../context.ts';
import { HttpProblem } from '../problem.ts';

const status = z.object({ status: z.string() });

export function healthRoutes(ctx: Needs<'metrics' | 'migrations' | 'pool'>): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/healthz',
      { schema: { tags: ['operations'], summary: 'The process is alive', response: { 200: status } } },
      async () => ({ status: 'ok' }),
    );

    app.get(
      '/readyz',
      {
        schema: {
          tags: ['operations'],
          summary: 'The database is reachable and every migration is applied',
          response: { 200: status },
        },
      },
      async () => {
        const why = await notReady(ctx);
        if (why) throw new HttpProblem(503, why, { headers: { 'retry-after': '5' } });
        return { status: 'ready' };
      },
    );

    app.get(
      '/metrics',
      {
        schema: {
          tags: ['operations'],
          summary: 'Prometheus metrics of this process',
          produces: ['text/plain'],
        },
      },
      async (_request, reply) => {
        const registry = ctx.metrics.registry;
        return reply.type(registry.contentType).send(await registry.metrics());
      },
    );
  };
}
