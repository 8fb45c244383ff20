// Operator routes: tenants and their API keys, and every tenant's dead letters.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { deadLetterView, viewDeadLetter } from '../../api/delivery-views.ts';
import type { AppContext } from '../../context.ts';
import { owners } from '../../crypto/secret-box.ts';
import { idOf, idParams, newId } from '../../ids.ts';
import { listDeadLetters } from '../../store/dead-letters.ts';
import {
  getTenant,
  insertKey,
  insertTenant,
  listTenants,
  revokeKey,
  type TenantRow,
} from '../../store/tenants.ts';
import { withTransaction } from '../../store/transaction.ts';
import { generateApiKey, generateSigningSecret, hashApiKey } from '../../tenants/keys.ts';
import { authenticate, requireAdmin } from '../auth.ts';
import { pageOf, pageQuery, toPage } from '../pagination.ts';
import { HttpProblem } from '../problem.ts';
import { deadLetterListFilter, timeOrdered } from './dead-letters.ts';

const tenant = z.object({ id: z.string(), name: z.string(), createdAt: z.string() });
const createdTenant = tenant.extend({ apiKey: z.string(), signingSecret: z.string() });
const createdKey = z.object({ id: z.string(), apiKey: z.string() });
const tenantParams = idParams('ten');
const security = [{ bearer: [] }];

const view = (row: TenantRow) => ({ id: row.id, name: row.name, createdAt: row.created_at.toISOString() });

export function adminRoutes(ctx: AppContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.addHook('onRequest', authenticate(ctx));
    app.addHook('onRequest', requireAdmin);

    async function issueKey(db: Parameters<typeof insertKey>[0], tenantId: string) {
      const apiKey = generateApiKey();
      const id = newId('key');
      await insertKey(db, { id, tenantId, role: 'tenant', hash: hashApiKey(apiKey) });
      return { id, apiKey };
    }

    async function existingTenant(id: string): Promise<TenantRow> {
      const row = await getTenant(ctx.pool, id);
      if (!row) throw new HttpProblem(404, `No tenant ${id}.`);
      return row;
    }

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
      async (request, reply) => {
        const created = await withTransaction(ctx.pool, async (tx) => {
          const id = newId('ten');
          const signingSecret = generateSigningSecret();
          const row = await insertTenant(tx, {
            id,
            name: request.body.name,
            signingSecret: ctx.secrets.seal(signingSecret, owners.tenant(id)),
          });
          const key = await issueKey(tx, row.id);
          return { ...view(row), apiKey: key.apiKey, signingSecret };
        });
        return reply.code(201).send(created);
      },
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
        return toPage(await listTenants(ctx.pool, limit + 1, cursor), limit, view);
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
      async (request) => view(await existingTenant(request.params.id)),
    );

    app.post(
      '/tenants/:id/keys',
      {
        schema: {
          tags: ['tenants'],
          summary: 'Issue another API key for a tenant (shown once); older keys stay valid until revoked',
          security,
          params: tenantParams,
          response: { 201: createdKey },
        },
      },
      async (request, reply) => {
        const row = await existingTenant(request.params.id);
        return reply.code(201).send(await issueKey(ctx.pool, row.id));
      },
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
        const rows = await listDeadLetters(ctx.pool, tenantId ?? null, {
          ...filter,
          before: cursor,
          limit: limit + 1,
        });
        return toPage(rows, limit, (row) => ({
          ...viewDeadLetter(row),
          tenantId: row.tenant_id,
        }));
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
        if (!(await revokeKey(ctx.pool, request.params.id, request.params.keyId))) {
          throw new HttpProblem(404, `No live key ${request.params.keyId} for tenant ${request.params.id}.`);
        }
        // Other processes forget on the revocation's NOTIFY; this one before it answers, so that the key is
        // refused from the 204 on (the notification arrives a moment later).
        ctx.principals.forget();
        return reply.code(204).send(null);
      },
    );
  };
}
