// Operator routes: tenants and their API keys, and every tenant's dead letters.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import * as deadLetters from '../../api/dead-letters.ts';
import { deadLetterView } from '../../api/delivery-views.ts';
import * as tenants from '../../api/tenants.ts';
import type { Needs } from '../../context.ts';
import { idOf, idParams } from '../../ids.ts';
import { authenticate, requireAdmin } from '../auth.ts';
import { pageOf, pageQuery, toPage } from '../pagination.ts';
import { deadLetterListFilter, timeOrdered } from './dead-letters.ts';

const tenant = z.object({ id: z.string(), name: z.string(), createdAt: z.string() });
const createdTenant = tenant.extend({ apiKey: z.string(), signingSecret: z.string() });
const createdKey = z.object({ id: z.string(), apiKey: z.string(), role: z.enum(['tenant', 'worker']) });
const keyRequest = z
  .object({
    role: z
      .enum(['tenant', 'worker'])
      .default('tenant')
      .describe('`worker`: a key that reaches only /v1/worker/* (for remote workers)'),
  })
  .strict();
const tenantParams = idParams('ten');
const security = [{ bearer: [] }];

export function adminRoutes(ctx: Needs<'config' | 'pool' | 'principals' | 'secrets'>): FastifyPluginAsyncZod {
  return async (app) => {
    app.addHook('onRequest', authenticate(ctx));
    app.addHook('onRequest', requireAdmin);

    app.post(
      '/tenants',
      {
        schema: {
          tags: ['tenants'],
          summary: 'Create a tenant with its first API key and signing secret (both shown once)',
          security,
          body: z.object({ name: z.string().trim().min(1).max(200) }),
          response: { 201: createdTenant },
        },
      },
      async (request, reply) => reply.code(201).send(await tenants.create(ctx, request.body.name)),
    );

    app.get(
      '/tenants',
      {
        schema: {
          tags: ['tenants'],
          summary: 'List tenants, newest first',
          security,
          querystring: pageQuery('ten'),
          response: { 200: pageOf(tenant) },
        },
      },
      async (request) => {
        const { limit, cursor } = request.query;
        return toPage(await tenants.list(ctx, { limit: limit + 1, before: cursor }), limit, (view) => view);
      },
    );

    app.get(
      '/tenants/:id',
      {
        schema: {
          tags: ['tenants'],
          summary: 'One tenant',
          security,
          params: tenantParams,
          response: { 200: tenant },
        },
      },
      async (request) => tenants.show(ctx, request.params.id),
    );

    app.post(
      '/tenants/:id/keys',
      {
        schema: {
          tags: ['tenants'],
          summary: 'Issue another API key for a tenant (shown once); older keys stay valid until revoked',
          security,
          params: tenantParams,
          body: keyRequest.nullish(),
          response: { 201: createdKey },
        },
      },
      async (request, reply) =>
        reply.code(201).send(await tenants.issueKey(ctx, request.params.id, request.body?.role ?? 'tenant')),
    );

    app.get(
      '/dead-letters',
      {
        schema: {
          tags: ['dead letters'],
          summary: "Every tenant's dead letters, newest first (operator view)",
          security,
          querystring: timeOrdered(
            pageQuery('dl')
              .extend(deadLetterListFilter.shape)
              .extend({ tenantId: idOf('ten').optional() }),
          ),
          response: { 200: pageOf(deadLetterView.extend({ tenantId: z.string() })) },
        },
      },
      async (request) => {
        const { limit, cursor, tenantId, ...filter } = request.query;
        const page = { ...filter, before: cursor, limit: limit + 1 };
        const views = await deadLetters.listForOperator(ctx, tenantId ?? null, page);
        return toPage(views, limit, (view) => view);
      },
    );

    app.delete(
      '/tenants/:id/keys/:keyId',
      {
        schema: {
          tags: ['tenants'],
          summary: 'Revoke an API key',
          security,
          params: tenantParams.extend({ keyId: idOf('key') }),
          response: { 204: z.null() },
        },
      },
      async (request, reply) => {
        // Refused from the 204 on: this process forgets the key before answering (src/api/tenants.ts).
        await tenants.revoke(ctx, request.params.id, request.params.keyId);
        return reply.code(204).send(null);
      },
    );
  };
}
