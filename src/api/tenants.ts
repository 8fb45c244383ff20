// What the API does for the operator with tenants and their keys, apart from HTTP: create a tenant (with its
// first key and signing secret), list and show them, issue and revoke keys. Keys are shown once, when issued,
// and stored hashed.
import type { Needs } from '../context.ts';
import { owners } from '../crypto/secret-box.ts';
import { KeyNotFound, TenantNotFound } from '../errors.ts';
import { newId } from '../ids.ts';
import type { Queryable } from '../store/pool.ts';
import {
  getTenant,
  insertKey,
  insertTenant,
  listTenants,
  revokeKey,
  type TenantRow,
} from '../store/tenants.ts';
import { withTransaction } from '../store/transaction.ts';
import { generateApiKey, generateSigningSecret, hashApiKey } from '../tenants/keys.ts';

export interface TenantView {
  id: string;
  name: string;
  createdAt: string;
}

const view = (row: TenantRow): TenantView => ({
  id: row.id,
  name: row.name,
  createdAt: row.created_at.toISOString(),
});

async function issue(
  db: Queryable,
  tenantId: string,
  role: 'tenant' | 'worker' = 'tenant',
): Promise<{ id: string; apiKey: string; role: 'tenant' | 'worker' }> {
  const apiKey = generateApiKey();
  const id = newId('key');
  await insertKey(db, { id, tenantId, role, hash: hashApiKey(apiKey) });
  return { id, apiKey, role };
}

async function existing(ctx: Needs<'pool'>, id: string): Promise<TenantRow> {
  const row = await getTenant(ctx.pool, id);
  if (!row) throw new TenantNotFound(id);
  return row;
}

/** A tenant with its first API key and its signing secret, both shown only now. */
export function create(ctx: Needs<'pool' | 'secrets'>, name: string) {
  return withTransaction(ctx.pool, async (tx) => {
    const id = newId('ten');
    const signingSecret = generateSigningSecret();
    const row = await insertTenant(tx, {
      id,
      name,
      signingSecret: ctx.secrets.seal(signingSecret, owners.tenant(id)),
    });
    const key = await issue(tx, row.id);
    return { ...view(row), apiKey: key.apiKey, signingSecret };
  });
}

/** One page, newest first: `limit` of them (ask for one more to learn whether a next page exists). */
export async function list(
  ctx: Needs<'pool'>,
  page: { limit: number; before?: string },
): Promise<TenantView[]> {
  return (await listTenants(ctx.pool, page.limit, page.before)).map(view);
}

export async function show(ctx: Needs<'pool'>, id: string): Promise<TenantView> {
  return view(await existing(ctx, id));
}

/** Another key for the tenant: a tenant key, or a worker key (only /v1/worker/*). */
export async function issueKey(
  ctx: Needs<'pool'>,
  tenantId: string,
  role: 'tenant' | 'worker' = 'tenant',
): Promise<{ id: string; apiKey: string; role: 'tenant' | 'worker' }> {
  return issue(ctx.pool, (await existing(ctx, tenantId)).id, role);
}

/** Revokes the key; this process forgets it before answering, the others on the revocation's NOTIFY. */
export async function revoke(
  ctx: Needs<'pool' | 'principals'>,
  tenantId: string,
  keyId: string,
): Promise<void> {
  if (!(await revokeKey(ctx.pool, tenantId, keyId))) throw new KeyNotFound(tenantId, keyId);
  ctx.principals.forget();
}
