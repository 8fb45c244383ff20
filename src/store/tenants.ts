// SQL for tenants and API keys.
import type { Pool, Queryable } from './pool.ts';
import { withTransaction } from './transaction.ts';

export interface TenantRow {
  id: string;
  name: string;
  signing_secret: string;
  created_at: Date;
}

export interface Principal {
  keyId: string;
  tenantId: string | null;
  /** `worker`: a tenant's key that reaches only /v1/worker/* (remote workers claiming jobs). */
  role: 'tenant' | 'worker' | 'admin';
}

export async function insertTenant(
  db: Queryable,
  tenant: { id: string; name: string; signingSecret: string },
) {
  const { rows } = await db.query<TenantRow>(
    'insert into tenants (id, name, signing_secret) values ($1, $2, $3) returning *',
    [tenant.id, tenant.name, tenant.signingSecret],
  );
  return rows[0] as TenantRow;
}

export async function getTenant(db: Queryable, id: string): Promise<TenantRow | undefined> {
  const { rows } = await db.query<TenantRow>('select * from tenants where id = $1', [id]);
  return rows[0];
}

export async function tenantsByIds(db: Queryable, ids: string[]): Promise<Map<string, TenantRow>> {
  const { rows } = await db.query<TenantRow>('select * from tenants where id = any($1::text[])', [ids]);
  return new Map(rows.map((row) => [row.id, row]));
}

/** Newest first; `before` is the last id of the previous page. */
export async function listTenants(
  db: Queryable,
  limit: number,
  before: string | undefined,
): Promise<TenantRow[]> {
  const { rows } = await db.query<TenantRow>(
    'select * from tenants where ($1::text is null or id < $1) order by id desc limit $2',
    [before ?? null, limit],
  );
  return rows;
}

export async function insertKey(
  db: Queryable,
  key: { id: string; tenantId: string | null; role: Principal['role']; hash: Buffer },
): Promise<void> {
  await db.query('insert into api_keys (id, tenant_id, role, key_hash) values ($1, $2, $3, $4)', [
    key.id,
    key.tenantId,
    key.role,
    key.hash,
  ]);
}

/** Revokes a tenant's key; false when no such live key belongs to the tenant. */
export async function revokeKey(db: Queryable, tenantId: string, keyId: string): Promise<boolean> {
  // The notification tells every process to drop the keys it remembers (see tenants/principal-cache.ts).
  const { rows } = await db.query(
    `with revoked as (
       update api_keys set revoked_at = now() where id = $1 and tenant_id = $2 and revoked_at is null returning id
     ) select pg_notify('${KEYS_CHANNEL}', id) from revoked`,
    [keyId, tenantId],
  );
  return rows.length === 1;
}

export const KEYS_CHANNEL = 'hookrelay_keys';

/** Which of these keys are revoked (or gone). */
export async function revokedKeyIds(db: Queryable, ids: string[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `select id from unnest($1::text[]) as given(id)
      where not exists (select 1 from api_keys k where k.id = given.id and k.revoked_at is null)`,
    [ids],
  );
  return rows.map((row) => row.id);
}

/** One unique-index lookup per request, whatever the number of keys. */
export async function findPrincipalByKeyHash(db: Queryable, hash: Buffer): Promise<Principal | undefined> {
  const { rows } = await db.query<{ id: string; tenant_id: string | null; role: Principal['role'] }>(
    'select id, tenant_id, role from api_keys where key_hash = $1 and revoked_at is null',
    [hash],
  );
  const row = rows[0];
  return row && { keyId: row.id, tenantId: row.tenant_id, role: row.role };
}

/**
 * Stores an operator key only if the database has no keys at all; the advisory lock makes processes starting
 * together agree on one. Returns whether it was stored.
 */
export async function insertFirstAdminKey(pool: Pool, key: { id: string; hash: Buffer }): Promise<boolean> {
  return withTransaction(pool, async (tx) => {
    await tx.query("select pg_advisory_xact_lock(hashtext('hookrelay.bootstrap-admin-key'))");
    const { rows } = await tx.query('select exists (select 1 from api_keys) as found');
    if (rows[0].found) return false;
    await insertKey(tx, { id: key.id, tenantId: null, role: 'admin', hash: key.hash });
    return true;
  });
}
