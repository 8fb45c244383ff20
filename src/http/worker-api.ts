// What remote workers reach under /v1: claims (a worker key or a tenant key, rate limited per tenant like the
// tenant API) and the reports of a task token (the token is the credential: no key).
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../context.ts';
import { createTaskReports } from '../jobs/remote.ts';
import { authenticate, requireWorker, tenantOf } from './auth.ts';
import { limitPerSecond } from './rate-limit.ts';
import { taskRoutes } from './routes/tasks.ts';
import { workerRoutes } from './routes/worker.ts';

/** The most reports one task token may send per second. */
const TASK_REPORTS_PER_SECOND = 10;

export function workerApi(ctx: AppContext, draining: AbortSignal): FastifyPluginAsync {
  return async (app) => {
    await app.register(async (claims) => {
      claims.addHook('onRequest', authenticate(ctx));
      claims.addHook('onRequest', requireWorker);
      await limitPerSecond(claims, ctx.config.tenantRateLimitPerSecond, tenantOf);
      await claims.register(workerRoutes(ctx, draining));
    });
    await app.register(async (reports) => {
      // Per token: a worker reports a few times per lease; a flood of progress would become a flood of events
      // and webhooks. (Guessing tokens is no use: 256 random bits, and each guess costs one index lookup.)
      await limitPerSecond(reports, TASK_REPORTS_PER_SECOND, (request) =>
        String((request.params as { taskToken?: string }).taskToken),
      );
      await reports.register(taskRoutes(createTaskReports(ctx)));
    });
  };
}
