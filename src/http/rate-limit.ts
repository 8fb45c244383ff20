// Per-second request limits (@fastify/rate-limit), answered as problem+json 429 with Retry-After. Counters are
// per process: with N API processes a key gets up to N times the limit.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpProblem } from './problem.ts';

export async function limitPerSecond(
  app: FastifyInstance,
  max: number,
  keyOf: (request: FastifyRequest) => string,
): Promise<void> {
  await app.register(rateLimit, {
    // After authentication and routing (preHandler, not onRequest, the default): keys are tenants or path parts.
    hook: 'preHandler',
    max,
    timeWindow: 1000,
    keyGenerator: keyOf,
    errorResponseBuilder: (_request, context) =>
      new HttpProblem(
        429,
        `Rate limit of ${context.max} requests per second exceeded; retry after ${context.after}.`,
        {
          headers: { 'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))) },
        },
      ),
  });
}
