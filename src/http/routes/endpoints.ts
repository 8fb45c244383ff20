// Tenant routes for endpoints: register receivers, change them, rotate their secret, send a test event. What each
// does is src/endpoints/lifecycle.ts; here are the request schemas and the responses.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Needs } from '../../context.ts';
import {
  changeEndpoint,
  createEndpoint,
  listEndpointsOf,
  removeEndpoint,
  rotateEndpointSecret,
  sendTestEvent,
  showEndpoint,
} from '../../endpoints/lifecycle.ts';
import { EVENT_TYPES } from '../../event-types.ts';
import { idParams } from '../../ids.ts';
import { CLIENT_SET_HEADERS, headerName, headerValue } from '../../outbound/header-fields.ts';
import { tenantOf } from '../auth.ts';
import { pageOf, pageQuery, toPage } from '../pagination.ts';

/** Set by hookrelay on every delivery, by the HTTP client, or hop-by-hop: an endpoint may not override them. */
const RESERVED = new RegExp(
  `^(${[...CLIENT_SET_HEADERS, 'content-type', 'user-agent', 'x-job-id', 'webhook-.*', 'keep-alive', 'proxy-.*'].join('|')})$`,
  'i',
);

const headers = z
  .record(headerName(100), headerValue(4096))
  .refine((value) => Object.keys(value).length <= 20, 'at most 20 headers')
  .refine((value) => Object.keys(value).every((name) => !RESERVED.test(name)), {
    message:
      'reserved header: host, content-length, content-type, user-agent, x-job-id, expect, webhook-* and hop-by-hop headers are set by hookrelay',
  });

const fields = z.object({
  url: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }).max(2048),
  description: z.string().max(500).optional(),
  eventTypes: z.array(z.enum(EVENT_TYPES)).min(1).max(EVENT_TYPES.length).optional(),
  rateLimitPerSecond: z.number().int().min(1).max(10_000).nullable().optional(),
  headers: headers.optional(),
  disabled: z.boolean().optional(),
  maxConcurrency: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .nullable()
    .optional()
    .describe(
      'the most attempts in flight to it across worker processes (null: DELIVERY_ENDPOINT_CONCURRENCY)',
    ),
  adaptiveConcurrency: z
    .boolean()
    .optional()
    .describe(
      'whether the limit adapts between 1 and maxConcurrency to its answers (default true); false: fixed at maxConcurrency',
    ),
});

const endpointView = z.object({
  id: z.string(),
  url: z.string(),
  description: z.string(),
  eventTypes: z.array(z.string()).nullable(),
  rateLimitPerSecond: z.number().nullable(),
  headers: z.record(z.string(), z.string()),
  disabled: z.boolean(),
  maxConcurrency: z.number(),
  adaptiveConcurrency: z.boolean(),
  concurrency: z
    .object({ limit: z.number(), inFlight: z.number() })
    .describe(
      'attempts allowed in flight now and running, summed over the worker processes delivering to it',
    ),
  pausedUntil: z
    .string()
    .nullable()
    .describe('a Retry-After (on 429 or 503) holds every attempt to it until then'),
  createdAt: z.string(),
  updatedAt: z.string(),
  secret: z.string(),
});

const security = [{ bearer: [] }];
const params = idParams('ep');

export function endpointRoutes(
  ctx: Needs<'boss' | 'config' | 'outbound' | 'pool' | 'secrets'>,
): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/endpoints',
      {
        schema: {
          tags: ['endpoints'],
          summary: 'Register an endpoint',
          security,
          body: fields,
          response: { 201: endpointView },
        },
      },
      async (request, reply) =>
        reply.code(201).send(await createEndpoint(ctx, tenantOf(request), request.body)),
    );

    app.get(
      '/endpoints',
      {
        schema: {
          tags: ['endpoints'],
          summary: 'List endpoints',
          security,
          querystring: pageQuery('ep'),
          response: { 200: pageOf(endpointView) },
        },
      },
      async (request) => {
        const { limit, cursor } = request.query;
        const views = await listEndpointsOf(ctx, tenantOf(request), { limit: limit + 1, before: cursor });
        return toPage(views, limit, (view) => view);
      },
    );

    app.get(
      '/endpoints/:id',
      {
        schema: {
          tags: ['endpoints'],
          summary: 'One endpoint',
          security,
          params,
          response: { 200: endpointView },
        },
      },
      async (request) => showEndpoint(ctx, tenantOf(request), request.params.id),
    );

    app.patch(
      '/endpoints/:id',
      {
        schema: {
          tags: ['endpoints'],
          summary: 'Change an endpoint (fields not sent keep their value)',
          security,
          params,
          body: fields.partial(),
          response: { 200: endpointView },
        },
      },
      async (request) => changeEndpoint(ctx, tenantOf(request), request.params.id, request.body),
    );

    app.delete(
      '/endpoints/:id',
      {
        schema: {
          tags: ['endpoints'],
          summary:
            'Delete an endpoint; its waiting messages are dead-lettered (endpoint_deleted) shortly after, in batches',
          security,
          params,
          response: { 204: z.null() },
        },
      },
      async (request, reply) => {
        await removeEndpoint(ctx, tenantOf(request), request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/endpoints/:id/secret/rotate',
      {
        schema: {
          tags: ['endpoints'],
          summary: 'Rotate the signing secret; the previous one keeps signing beside it for 24 h',
          security,
          params,
          response: { 200: z.object({ secret: z.string() }) },
        },
      },
      async (request) => ({ secret: await rotateEndpointSecret(ctx, tenantOf(request), request.params.id) }),
    );

    app.post(
      '/endpoints/:id/test',
      {
        schema: {
          tags: ['endpoints'],
          summary: 'Send an endpoint.test event to this endpoint now',
          security,
          params,
          response: { 202: z.object({ messageId: z.string() }) },
        },
      },
      async (request, reply) =>
        reply.code(202).send({ messageId: await sendTestEvent(ctx, tenantOf(request), request.params.id) }),
    );
  };
}
