// Everything under /v1 a tenant key reaches: authenticated, scoped to the key's tenant, rate limited per tenant.
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../context.ts';
import { authenticate, requireTenant, tenantOf } from './auth.ts';
import { HttpProblem } from './problem.ts';
import { deadLetterRoutes } from './routes/dead-letters.ts';
import { endpointStatsRoutes } from './routes/endpoint-stats.ts';
import { endpointRoutes } from './routes/endpoints.ts';
import { jobTypeRoutes } from './routes/job-types.ts';
import { jobRoutes } from './routes/jobs.ts';
import { messageRoutes } from './routes/messages.ts';

export function tenantApi(ctx: AppContext, draining: AbortSignal): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRequest', authenticate(ctx));
    app.addHook('onRequest', requireTenant);
    // Keyed by tenant, so it runs after authentication (preHandler), not before it (onRequest, the default).
    // Counters are per process: with N API processes a tenant gets up to N times the limit.
    await app.register(rateLimit, {
      hook: 'preHandler',
      max: ctx.config.tenantRateLimitPerSecond,
      timeWindow: 1000,
      keyGenerator: (request) => tenantOf(request),
      errorResponseBuilder: (_request, context) =>
        new HttpProblem(
          429,
          `Rate limit of ${context.max} requests per second exceeded; retry after ${context.after}.`,
          {
            headers: { 'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))) },
          },
        ),
    });
    await app.register(jobRoutes(ctx, draining));
    await app.register(jobTypeRoutes(ctx));
    await app.register(endpointRoutes(ctx));
    await app.register(endpointStatsRoutes(ctx));
    await app.register(messageRoutes(ctx));
    await app.register(deadLetterRoutes(ctx));
  };
}
