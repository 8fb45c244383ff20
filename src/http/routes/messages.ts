// Tenant routes for messages: list, one with its attempts, resend; and a job's deliveries.

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { messageView, messageWithAttempts } from '../../api/delivery-views.ts';
import * as messages from '../../api/messages.ts';
import type { Needs } from '../../context.ts';
import { idOf, idParams } from '../../ids.ts';
import { tenantOf } from '../auth.ts';
import { orderingKey } from '../job-submission.ts';
import { pageOf, pageQuery, toPage } from '../pagination.ts';

const security = [{ bearer: [] }];
const params = idParams('msg');

export function messageRoutes(ctx: Needs<'pool'>): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/messages',
      {
        schema: {
          tags: ['messages'],
          summary: 'List messages, newest first',
          security,
          querystring: pageQuery('msg').extend({
            jobId: idOf('job').optional(),
            endpointId: idOf('ep').optional(),
            status: z.enum(['pending', 'delivered', 'dead']).optional(),
            orderingKey: orderingKey.optional().describe("a key's messages (with status=pending: its queue)"),
          }),
          response: { 200: pageOf(messageView) },
        },
      },
      async (request) => {
        const { limit, cursor, ...filter } = request.query;
        const views = await messages.list(ctx, tenantOf(request), {
          ...filter,
          before: cursor,
          limit: limit + 1,
        });
        return toPage(views, limit, (view) => view);
      },
    );

    app.get(
      '/messages/:id',
      {
        schema: {
          tags: ['messages'],
          summary: 'One message with its attempts',
          security,
          params,
          response: { 200: messageWithAttempts },
        },
      },
      async (request) => messages.show(ctx, tenantOf(request), request.params.id),
    );

    app.post(
      '/messages/:id/resend',
      {
        schema: {
          tags: ['messages'],
          summary: 'Send the message again now, with the same webhook-id and a fresh attempt schedule',
          security,
          params,
          response: { 202: z.object({ messageId: z.string() }) },
        },
      },
      async (request, reply) =>
        reply.code(202).send({ messageId: await messages.resend(ctx, tenantOf(request), request.params.id) }),
    );

    app.get(
      '/jobs/:id/deliveries',
      {
        schema: {
          tags: ['jobs'],
          summary: 'The messages sent for a job, with their attempts',
          security,
          params: idParams('job'),
          response: { 200: z.object({ data: z.array(messageWithAttempts) }) },
        },
      },
      async (request) => ({ data: await messages.ofJob(ctx, tenantOf(request), request.params.id) }),
    );
  };
}
