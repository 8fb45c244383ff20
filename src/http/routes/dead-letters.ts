// Tenant routes for dead letters: list and filter, read, replay one or many, discard.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import * as deadLetters from '../../api/dead-letters.ts';
import { deadLetterView } from '../../api/delivery-views.ts';
import type { Needs } from '../../context.ts';
import { idOf, idParams } from '../../ids.ts';
import { tenantOf } from '../auth.ts';
import { pageOf, pageQuery, toPage } from '../pagination.ts';

const security = [{ bearer: [] }];
const params = idParams('dl');
const time = z.iso.datetime({ offset: true }).transform((text) => new Date(text));
/** Filters shared by the tenant's list, the operator's list and bulk replay. */
export const deadLetterFilter = z.object({
  endpointId: idOf('ep').optional(),
  jobId: idOf('job').optional(),
  since: time.optional(),
  until: time.optional(),
  reason: deadLetterView.shape.reason.optional(),
});
/** Lists may also pick replayed (`true`) or not-yet-replayed (`false`) dead letters. */
export const deadLetterListFilter = deadLetterFilter.extend({
  replayed: z
    .enum(['true', 'false'])
    .transform((text) => text === 'true')
    .optional(),
});

/** Refuses a time range that ends before it starts, which would silently match nothing. */
export function timeOrdered<T extends z.ZodType<{ since?: Date; until?: Date }>>(schema: T) {
  return schema.refine(({ since, until }) => !since || !until || since < until, {
    message: 'since must be before until',
    path: ['since'],
  });
}

export function deadLetterRoutes(ctx: Needs<'pool'>): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/dead-letters',
      {
        schema: {
          tags: ['dead letters'],
          summary: 'List dead letters, newest first; filter by endpoint, job, time, reason and replayed',
          security,
          querystring: timeOrdered(pageQuery('dl').extend(deadLetterListFilter.shape)),
          response: { 200: pageOf(deadLetterView) },
        },
      },
      async (request) => {
        const { limit, cursor, ...rest } = request.query;
        const views = await deadLetters.list(ctx, tenantOf(request), {
          ...rest,
          before: cursor,
          limit: limit + 1,
        });
        return toPage(views, limit, (view) => view);
      },
    );

    app.get(
      '/dead-letters/:id',
      {
        schema: {
          tags: ['dead letters'],
          summary: 'One dead letter',
          security,
          params,
          response: { 200: deadLetterView },
        },
      },
      async (request) => deadLetters.show(ctx, tenantOf(request), request.params.id),
    );

    app.post(
      '/dead-letters/:id/replay',
      {
        schema: {
          tags: ['dead letters'],
          summary: 'Send the original message again (same webhook-id, fresh schedule); the dead letter stays',
          security,
          params,
          response: { 202: z.object({ messageId: z.string() }) },
        },
      },
      async (request, reply) => {
        const { keyId } = request.principal;
        const messageId = await deadLetters.replay(ctx, tenantOf(request), request.params.id, keyId);
        return reply.code(202).send({ messageId });
      },
    );

    app.post(
      '/dead-letters/replay',
      {
        schema: {
          tags: ['dead letters'],
          summary:
            'Replay every dead letter not replayed yet that matches the filter (batched), oldest first; ' +
            '`limit` replays at most that many, `dryRun` only counts them',
          security,
          body: timeOrdered(
            deadLetterFilter
              .omit({ jobId: true })
              .extend({
                limit: z.number().int().min(1).max(10_000).optional(),
                dryRun: z.boolean().optional(),
              })
              .strict(),
          ),
          response: { 202: z.object({ replayed: z.number() }), 200: z.object({ matching: z.number() }) },
        },
      },
      async (request, reply) => {
        const { limit, dryRun, ...filter } = request.body;
        const tenantId = tenantOf(request);
        if (dryRun)
          return reply.code(200).send({ matching: await deadLetters.countReplayAll(ctx, tenantId, filter) });
        const replayed = await deadLetters.replayAll(ctx, tenantId, filter, request.principal.keyId, limit);
        return reply.code(202).send({ replayed });
      },
    );

    app.delete(
      '/dead-letters/:id',
      {
        schema: {
          tags: ['dead letters'],
          summary: 'Discard a dead letter',
          security,
          params,
          response: { 204: z.null() },
        },
      },
      async (request, reply) => {
        await deadLetters.discard(ctx, tenantOf(request), request.params.id);
        return reply.code(204).send(null);
      },
    );
  };
}
