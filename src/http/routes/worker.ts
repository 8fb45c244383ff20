// Remote workers claim jobs here, with a worker key (only these routes) or a tenant key.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Needs } from '../../context.ts';
import { claimTasks } from '../../jobs/remote.ts';
import { tenantOf, untilRevoked } from '../auth.ts';

const claimRequest = z
  .object({
    types: z
      .array(z.string().regex(/^[a-z][a-z0-9._-]{0,63}$/, 'a job type name'))
      .min(1)
      .max(20)
      .describe("this tenant's remote job types the worker runs"),
    max: z.number().int().min(1).max(100).default(1).describe('the most jobs to take'),
    waitSeconds: z.number().min(0).max(60).default(0).describe('how long to wait for a job when none is due'),
  })
  .strict();

const claimedTask = z.object({
  jobId: z.string(),
  type: z.string(),
  input: z.unknown(),
  attempt: z.number().describe('1 on the first attempt'),
  maxAttempts: z.number(),
  metadata: z.record(z.string(), z.unknown()),
  taskToken: z.string().describe("the attempt's credential for /v1/tasks/{taskToken}/…; shown only here"),
  leaseExpiresAt: z.string().describe('heartbeat before this, or the attempt counts as failed'),
  deadline: z.string().describe("the attempt's time limit (timeoutSeconds), whatever its heartbeats"),
});

export function workerRoutes(
  ctx: Needs<'config' | 'metrics' | 'notifications' | 'pool' | 'principals' | 'tenantTypes'>,
  draining: AbortSignal,
): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/worker/claim',
      {
        schema: {
          tags: ['workers'],
          summary: 'Claim due jobs of remote types, waiting up to waitSeconds for one (long poll)',
          security: [{ bearer: [] }],
          body: claimRequest,
          response: { 200: z.object({ data: z.array(claimedTask) }) },
        },
      },
      async (request, reply) => {
        // A worker that hangs up, a revoked key or this process draining ends the wait (an empty answer).
        const held = untilRevoked(ctx, request, reply, draining);
        const gone = new AbortController();
        reply.raw.once('close', () => gone.abort());
        const data = await claimTasks(
          ctx,
          tenantOf(request),
          request.body,
          AbortSignal.any([held.stop, gone.signal]),
        );
        return { data };
      },
    );
  };
}
