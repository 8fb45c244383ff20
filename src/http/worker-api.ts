// What remote workers reach under /v1: claims (a worker key or a tenant key, rate limited per tenant like the
// tenant API) and the reports of a task token (the token is the credential: no key).
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../context.ts';
import { createTaskReports } from '../jobs/remote.ts';
import { authenticate, requireWorker, tenantOf } from './auth.ts';
import { HttpProblem } from './problem.ts';
import { taskRoutes } from './routes/tasks.ts';
import { workerRoutes } from './routes/worker.ts';

export function workerApi(ctx: AppContext, draining: AbortSignal): FastifyPluginAsync {
  return async (app) => {
    await app.register(async (claims) => {
      claims.addHook('onRequest', authenticate(ctx));
      claims.addHook('onRequest', requireWorker);
      await claims.register(rateLimit, {
        hook: 'preHandler',
        max: ctx.config.tenantRateLimitPerSecond,
        timeWindow: 1000,
        keyGenerator: (request) => tenantOf(request),
        errorResponseBuilder: (_request, context) =>
          new HttpProblem(429, `Rate limit of ${context.max} requests per second exceeded.`, {
            headers: { 'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))) },
          }),
      });
      await claims.register(workerRoutes(ctx, draining));
    });
    await app.register(taskRoutes(createTaskReports(ctx)));
  };
}
