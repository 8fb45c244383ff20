// An endpoint's blocked ordering keys: which keys wait on a failing head message, and why.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Needs } from '../../context.ts';
import { blockedKeysOf } from '../../endpoints/ordering-keys.ts';
import { idParams } from '../../ids.ts';
import { tenantOf } from '../auth.ts';

const blockedKeysView = z.object({
  data: z.array(
    z.object({
      orderingKey: z.string(),
      pending: z.number().describe("the key's messages pending to this endpoint, the head included"),
      head: z
        .object({
          messageId: z.string(),
          jobId: z.string().nullable(),
          attemptCount: z.number(),
          lastError: z.string().nullable(),
          lastResponseStatus: z.number().nullable(),
          nextAttemptAt: z.string().nullable(),
          createdAt: z.string(),
        })
        .describe('the message the others wait for: it failed its last attempt and retries at nextAttemptAt'),
    }),
  ),
});

export function orderingKeyRoutes(ctx: Needs<'pool'>): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/endpoints/:id/ordering-keys',
      {
        schema: {
          tags: ['endpoints'],
          summary:
            "An endpoint's blocked ordering keys: those whose head message failed and holds the rest, oldest first",
          security: [{ bearer: [] }],
          params: idParams('ep'),
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(50) }),
          response: { 200: blockedKeysView },
        },
      },
      async (request) => blockedKeysOf(ctx, tenantOf(request), request.params.id, request.query.limit),
    );
  };
}
