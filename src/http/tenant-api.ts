// Everything under /v1 a tenant key reaches: authenticated, scoped to the key's tenant, rate limited per tenant.
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../context.ts';
import { authenticate, requireTenant, tenantOf } from './auth.ts';
import { limitPerSecond } from './rate-limit.ts';
import { deadLetterRoutes } from './routes/dead-letters.ts';
import { endpointStatsRoutes } from './routes/endpoint-stats.ts';
import { endpointRoutes } from './routes/endpoints.ts';
import { jobTypeRoutes } from './routes/job-types.ts';
import { jobRoutes } from './routes/jobs.ts';
import { messageRoutes } from './routes/messages.ts';
import { orderingKeyRoutes } from './routes/ordering-keys.ts';
import { scheduleRoutes } from './routes/schedules.ts';

export function tenantApi(ctx: AppContext, draining: AbortSignal): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRequest', authenticate(ctx));
    app.addHook('onRequest', requireTenant);
    await limitPerSecond(app, ctx.config.tenantRateLimitPerSecond, tenantOf);
    await app.register(jobRoutes(ctx, draining));
    await app.register(jobTypeRoutes(ctx));
    await app.register(scheduleRoutes(ctx));
    await app.register(endpointRoutes(ctx));
    await app.register(endpointStatsRoutes(ctx));
    await app.register(orderingKeyRoutes(ctx));
    await app.register(messageRoutes(ctx));
    await app.register(deadLetterRoutes(ctx));
  };
}
