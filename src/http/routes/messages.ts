// Tenant routes for messages: list, one with its attempts, resend; and a job's deliveries.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../context.ts';
import { resendMessages } from '../../delivery/resend.ts';
import { messageView, messageWithAttempts, viewAttempt, viewMessage } from '../../delivery/views.ts';
import { idOf, idParams } from '../../ids.ts';
import { getJob } from '../../store/jobs.ts';
import { attemptsOf, getMessage, listMessages, type MessageRow } from '../../store/messages.ts';
import { withTransaction } from '../../store/transaction.ts';
import { tenantOf } from '../auth.ts';
import { pageOf, pageQuery, toPage } from '../pagination.ts';
import { HttpProblem } from '../problem.ts';

const security = [{ bearer: [] }];
const params = idParams('msg');

export function messageRoutes(ctx: AppContext): FastifyPluginAsyncZod {
  return async (app) => {
    async function withAttempts(rows: MessageRow[]) {
      const attempts = await attemptsOf(
        ctx.pool,
        rows.map((row) => row.id),
      );
      return rows.map((row) => ({
        ...viewMessage(row),
        attempts: attempts.filter((a) => a.message_id === row.id).map(viewAttempt),
      }));
    }

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
          }),
          response: { 200: pageOf(messageView) },
        },
      },
      async (request) => {
        const { limit, cursor, ...filter } = request.query;
        const rows = await listMessages(ctx.pool, tenantOf(request), {
          ...filter,
          before: cursor,
          limit: limit + 1,
        });
        return toPage(rows, limit, viewMessage);
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
      async (request) => {
        const row = await getMessage(ctx.pool, tenantOf(request), request.params.id);
        if (!row) throw new HttpProblem(404, `No message ${request.params.id}.`);
        const [message] = await withAttempts([row]);
        return message as z.infer<typeof messageWithAttempts>;
      },
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
      async (request, reply) => {
        const row = await getMessage(ctx.pool, tenantOf(request), request.params.id);
        if (!row) throw new HttpProblem(404, `No message ${request.params.id}.`);
        await withTransaction(ctx.pool, (tx) => resendMessages(tx, [row.id]));
        return reply.code(202).send({ messageId: row.id });
      },
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
      async (request) => {
        const tenantId = tenantOf(request);
        if (!(await getJob(ctx.pool, tenantId, request.params.id)))
          throw new HttpProblem(404, `No job ${request.params.id}.`);
        const rows = await listMessages(ctx.pool, tenantId, { jobId: request.params.id, limit: 100 });
        return { data: await withAttempts(rows) };
      },
    );
  };
}
