// Tenant routes for endpoints: register receivers, change them, rotate their secret, send a test event.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../context.ts';
import { owners } from '../../crypto/secret-box.ts';
import { requestDrain } from '../../delivery/drain.ts';
import { EVENT_TYPES } from '../../delivery/event-types.ts';
import { fanOut } from '../../delivery/fan-out.ts';
import { idParams, newId } from '../../ids.ts';
import {
  databaseNow,
  deleteEndpoint,
  type EndpointFields,
  type EndpointRow,
  getEndpoint,
  insertEndpoint,
  listEndpoints,
  lockEndpoint,
  rotateSecret,
  updateEndpoint,
} from '../../store/endpoints.ts';
import { withTransaction } from '../../store/transaction.ts';
import { generateSigningSecret } from '../../tenants/keys.ts';
import { tenantOf } from '../auth.ts';
import { pageOf, pageQuery, toPage } from '../pagination.ts';
import { HttpProblem } from '../problem.ts';

const ROTATION_GRACE_SECONDS = 24 * 3600;
/** Set by hookrelay on every delivery, or hop-by-hop: an endpoint may not override them. */
const RESERVED =
  /^(host|content-length|content-type|user-agent|x-job-id|webhook-.*|connection|keep-alive|proxy-.*|te|trailer|transfer-encoding|upgrade)$/i;

const headers = z
  .record(
    z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/, 'not a valid header name'),
    z
      .string()
      .max(4096)
      .regex(/^[^\r\n\0]*$/, 'header values may not contain CR, LF or NUL'),
  )
  .refine((value) => Object.keys(value).length <= 20, 'at most 20 headers')
  .refine((value) => Object.keys(value).every((name) => !RESERVED.test(name)), {
    message:
      'reserved header: host, content-length, content-type, user-agent, x-job-id, webhook-* and hop-by-hop headers are set by hookrelay',
  });

const fields = z.object({
  url: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }).max(2048),
  description: z.string().max(500).optional(),
  eventTypes: z.array(z.enum(EVENT_TYPES)).min(1).max(EVENT_TYPES.length).optional(),
  rateLimitPerSecond: z.number().int().min(1).max(10_000).nullable().optional(),
  headers: headers.optional(),
  disabled: z.boolean().optional(),
});

const endpointView = z.object({
  id: z.string(),
  url: z.string(),
  description: z.string(),
  eventTypes: z.array(z.string()).nullable(),
  rateLimitPerSecond: z.number().nullable(),
  headers: z.record(z.string(), z.string()),
  disabled: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
  secret: z.string(),
});

/** `secret` is the row's secret opened (it may be sealed at rest). */
const view = (row: EndpointRow, secret: string): z.infer<typeof endpointView> => ({
  id: row.id,
  url: row.url,
  description: row.description,
  eventTypes: row.event_types,
  rateLimitPerSecond: row.rate_limit_per_second,
  headers: row.headers,
  disabled: row.disabled,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
  secret,
});

const security = [{ bearer: [] }];
const params = idParams('ep');

export function endpointRoutes(ctx: AppContext): FastifyPluginAsyncZod {
  const show = (row: EndpointRow) => view(row, ctx.secrets.open(row.secret, owners.endpoint(row.id)));
  return async (app) => {
    async function checkUrl(url: string) {
      const refused = await ctx.outbound.check(new URL(url));
      if (refused) throw new HttpProblem(422, `The endpoint URL is not allowed: ${refused}.`);
    }

    async function existing(tenantId: string, id: string): Promise<EndpointRow> {
      const row = await getEndpoint(ctx.pool, tenantId, id);
      if (!row) throw new HttpProblem(404, `No endpoint ${id}.`);
      return row;
    }

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
      async (request, reply) => {
        const body = request.body;
        await checkUrl(body.url);
        const id = newId('ep');
        const secret = generateSigningSecret();
        const row = await insertEndpoint(ctx.pool, {
          id,
          tenantId: tenantOf(request),
          secret: ctx.secrets.seal(secret, owners.endpoint(id)),
          url: body.url,
          description: body.description ?? '',
          eventTypes: body.eventTypes ?? null,
          rateLimitPerSecond: body.rateLimitPerSecond ?? null,
          headers: body.headers ?? {},
          disabled: body.disabled ?? false,
        });
        return reply.code(201).send(view(row, secret));
      },
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
        return toPage(await listEndpoints(ctx.pool, tenantOf(request), limit + 1, cursor), limit, show);
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
      async (request) => show(await existing(tenantOf(request), request.params.id)),
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
      async (request) => {
        const tenantId = tenantOf(request);
        const { id } = request.params;
        const body = request.body;
        if (body.url !== undefined) await checkUrl(body.url);
        const row = await withTransaction(ctx.pool, async (tx) => {
          // Merged with the row as it is under lock: a change racing another (an automatic disable, say) keeps
          // the fields this request did not send as that one left them.
          const current = await lockEndpoint(tx, tenantId, id);
          if (!current) throw new HttpProblem(404, `No endpoint ${id}.`);
          const next: EndpointFields = {
            url: body.url ?? current.url,
            description: body.description ?? current.description,
            eventTypes: body.eventTypes === undefined ? current.event_types : body.eventTypes,
            rateLimitPerSecond:
              body.rateLimitPerSecond === undefined ? current.rate_limit_per_second : body.rateLimitPerSecond,
            headers: body.headers ?? current.headers,
            disabled: body.disabled ?? current.disabled,
          };
          const changed = await updateEndpoint(tx, tenantId, id, next);
          if (!current.disabled && changed.disabled) {
            await requestDrain(ctx, tx, {
              endpointId: id,
              tenantId,
              reason: 'endpoint_disabled',
              alert: {
                url: changed.url,
                failingSince: null,
                closedAt: changed.updated_at.toISOString(),
                cause: 'disabled',
              },
            });
          }
          return changed;
        });
        return show(row);
      },
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
        const tenantId = tenantOf(request);
        await withTransaction(ctx.pool, async (tx) => {
          const deleted = await deleteEndpoint(tx, tenantId, request.params.id);
          if (!deleted) throw new HttpProblem(404, `No endpoint ${request.params.id}.`);
          const deletedAt = await databaseNow(tx);
          // What waits for it is dead-lettered afterwards, in batches: claims leave it alone from now on.
          await requestDrain(ctx, tx, {
            endpointId: deleted.id,
            tenantId,
            reason: 'endpoint_deleted',
            alert: {
              url: deleted.url,
              failingSince: deleted.failing_since?.toISOString() ?? null,
              closedAt: deletedAt.toISOString(),
              cause: 'deleted',
            },
          });
        });
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
      async (request) => {
        const { id } = request.params;
        const secret = generateSigningSecret();
        const sealed = ctx.secrets.seal(secret, owners.endpoint(id));
        const row = await rotateSecret(ctx.pool, tenantOf(request), id, sealed, ROTATION_GRACE_SECONDS);
        if (!row) throw new HttpProblem(404, `No endpoint ${id}.`);
        return { secret };
      },
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
      async (request, reply) => {
        const tenantId = tenantOf(request);
        const endpoint = await existing(tenantId, request.params.id);
        const [messageId] = await withTransaction(ctx.pool, (tx) =>
          fanOut(
            tx,
            { tenantId, jobId: null, type: 'endpoint.test', data: { endpointId: endpoint.id } },
            { kind: 'endpoint', endpoint },
          ),
        );
        return reply.code(202).send({ messageId: messageId as string });
      },
    );
  };
}
