// The signing secrets at rest, wherever they are kept, for sealing them under the encryption key.
import type { Queryable } from './pool.ts';

export type SecretPlace = 'tenants.signing_secret' | 'endpoints.secret' | 'endpoints.previous_secret';

export interface StoredSecret {
  place: SecretPlace;
  id: string;
  value: string;
}

const EVERY_SECRET = `
  select 'tenants.signing_secret' as place, id, signing_secret as value from tenants
  union all select 'endpoints.secret', id, secret from endpoints
  union all select 'endpoints.previous_secret', id, previous_secret from endpoints where previous_secret is not null`;

/** Secrets whose stored value does not start with `prefix` (the current key's), in (id, place) order after
 * `after`, so one pass visits each secret once. */
export async function secretsNotStartingWith(
  db: Queryable,
  prefix: string,
  after: Pick<StoredSecret, 'id' | 'place'> | undefined,
  limit: number,
): Promise<StoredSecret[]> {
  const { rows } = await db.query<StoredSecret>(
    `select * from (${EVERY_SECRET}) s
      where not starts_with(value, $1) and ($2::text is null or (id, place) > ($2, $3))
      order by id, place limit $4`,
    [prefix, after?.id ?? null, after?.place ?? null, limit],
  );
  return rows;
}

export async function countSecretsStartingWith(db: Queryable, prefix: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `select count(*)::int as n from (${EVERY_SECRET}) s where starts_with(value, $1)`,
    [prefix],
  );
  return rows[0]?.n ?? 0;
}

const REPLACE: Record<SecretPlace, string> = {
  'tenants.signing_secret': 'update tenants set signing_secret = $3 where id = $1 and signing_secret = $2',
  'endpoints.secret': 'update endpoints set secret = $3 where id = $1 and secret = $2',
  'endpoints.previous_secret':
    'update endpoints set previous_secret = $3 where id = $1 and previous_secret = $2',
};

/** Replaces a secret's stored value if it still holds the value read (another process may have resealed it meanwhile). */
export async function replaceSecret(db: Queryable, secret: StoredSecret, value: string): Promise<void> {
  await db.query(REPLACE[secret.place], [secret.id, secret.value, value]);
}
