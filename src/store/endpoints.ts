// SQL for endpoints: the receivers a tenant registers.
import type { Queryable } from './pool.ts';

export interface EndpointRow {
  id: string;
  tenant_id: string;
  url: string;
  description: string;
  event_types: string[] | null;
  rate_limit_per_second: number | null;
  headers: Record<string, string>;
  disabled: boolean;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  failing_since: Date | null;
  consecutive_failures: number;
  circuit_open_until: Date | null;
  /** The most attempts in flight across processes; null: DELIVERY_ENDPOINT_CONCURRENCY. */
  max_concurrency: number | null;
  /** Whether the limit adapts below max_concurrency to the endpoint's answers (delivery/concurrency.ts). */
  adaptive_concurrency: boolean;
  /** A Retry-After on 429 or 503 holds every attempt to the endpoint until then. */
  paused_until: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface EndpointFields {
  url: string;
  description: string;
  eventTypes: string[] | null;
  rateLimitPerSecond: number | null;
  headers: Record<string, string>;
  disabled: boolean;
  /** null: DELIVERY_ENDPOINT_CONCURRENCY. */
  maxConcurrency: number | null;
  adaptiveConcurrency: boolean;
}

export async function insertEndpoint(
  db: Queryable,
  endpoint: EndpointFields & { id: string; tenantId: string; secret: string },
): Promise<EndpointRow> {
  const { rows } = await db.query<EndpointRow>(
    `insert into endpoints (id, tenant_id, url, description, event_types, rate_limit_per_second, headers, disabled, secret,
                            max_concurrency, adaptive_concurrency)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning *`,
    [
      endpoint.id,
      endpoint.tenantId,
      endpoint.url,
      endpoint.description,
      endpoint.eventTypes,
      endpoint.rateLimitPerSecond,
      JSON.stringify(endpoint.headers),
      endpoint.disabled,
      endpoint.secret,
      endpoint.maxConcurrency,
      endpoint.adaptiveConcurrency,
    ],
  );
  return rows[0] as EndpointRow;
}

export async function getEndpoint(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<EndpointRow | undefined> {
  const { rows } = await db.query<EndpointRow>('select * from endpoints where id = $1 and tenant_id = $2', [
    id,
    tenantId,
  ]);
  return rows[0];
}

/** An endpoint by id, whichever tenant it belongs to (for workers, which have the id from a message). */
export async function getEndpointById(db: Queryable, id: string): Promise<EndpointRow | undefined> {
  const { rows } = await db.query<EndpointRow>('select * from endpoints where id = $1', [id]);
  return rows[0];
}

/** Endpoints by id, whichever tenant they belong to (for the dispatcher, which has the ids from messages). */
export async function endpointsByIds(db: Queryable, ids: string[]): Promise<Map<string, EndpointRow>> {
  const { rows } = await db.query<EndpointRow>({
    name: 'endpoints.by-ids',
    text: 'select * from endpoints where id = any($1::text[])',
    values: [ids],
  });
  return new Map(rows.map((row) => [row.id, row]));
}

export async function listEndpoints(
  db: Queryable,
  tenantId: string,
  limit: number,
  before: string | undefined,
): Promise<EndpointRow[]> {
  const { rows } = await db.query<EndpointRow>(
    'select * from endpoints where tenant_id = $1 and ($2::text is null or id < $2) order by id desc limit $3',
    [tenantId, before ?? null, limit],
  );
  return rows;
}

/** A tenant's endpoint, locked for a change; another tenant's id reads as missing. */
export async function lockEndpoint(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<EndpointRow | undefined> {
  const { rows } = await db.query<EndpointRow>(
    'select * from endpoints where id = $1 and tenant_id = $2 for update',
    [id, tenantId],
  );
  return rows[0];
}

/** Changes an endpoint the caller has locked (lockEndpoint). */
export async function updateEndpoint(
  db: Queryable,
  tenantId: string,
  id: string,
  fields: EndpointFields,
): Promise<EndpointRow> {
  const { rows } = await db.query<EndpointRow>(
    `update endpoints set url = $3, description = $4, event_types = $5, rate_limit_per_second = $6, headers = $7,
            disabled = $8, max_concurrency = $9, adaptive_concurrency = $10, updated_at = now(),
            -- Re-enabling starts a fresh failure streak.
            failing_since = case when disabled and not $8 then null else failing_since end
      where id = $1 and tenant_id = $2 returning *`,
    [
      id,
      tenantId,
      fields.url,
      fields.description,
      fields.eventTypes,
      fields.rateLimitPerSecond,
      JSON.stringify(fields.headers),
      fields.disabled,
      fields.maxConcurrency,
      fields.adaptiveConcurrency,
    ],
  );
  return rows[0] as EndpointRow;
}

/** The database's clock (the start of the caller's transaction), for times compared with rows' times. */
export async function databaseNow(db: Queryable): Promise<Date> {
  const { rows } = await db.query<{ now: Date }>('select now()');
  return rows[0]?.now as Date;
}

/** Deletes a tenant's endpoint; returns it, or undefined when the tenant has none by that id. */
export async function deleteEndpoint(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<EndpointRow | undefined> {
  const { rows } = await db.query<EndpointRow>(
    'delete from endpoints where id = $1 and tenant_id = $2 returning *',
    [id, tenantId],
  );
  return rows[0];
}

/** The new secret signs from now on; the previous one keeps signing beside it for `graceSeconds`. */
export async function rotateSecret(
  db: Queryable,
  tenantId: string,
  id: string,
  secret: string,
  graceSeconds: number,
): Promise<EndpointRow | undefined> {
  const { rows } = await db.query<EndpointRow>(
    `update endpoints set previous_secret = secret, secret = $3,
            previous_secret_expires_at = now() + make_interval(secs => $4), updated_at = now()
      where id = $1 and tenant_id = $2 returning *`,
    [id, tenantId, secret, graceSeconds],
  );
  return rows[0];
}

/** Enabled endpoints of the tenant that receive this event type (all job events when none are listed). */
export async function subscribedEndpoints(
  db: Queryable,
  tenantId: string,
  eventType: string,
  defaultTypes: readonly string[],
): Promise<EndpointRow[]> {
  const { rows } = await db.query<EndpointRow>(
    `select * from endpoints
      where tenant_id = $1 and not disabled
        and (case when event_types is null then $2 = any($3::text[]) else $2 = any(event_types) end)`,
    [tenantId, eventType, defaultTypes],
  );
  return rows;
}

/** Clears the failure streak and closes the circuit after a success. */
export async function recordEndpointSuccess(db: Queryable, id: string): Promise<void> {
  await db.query(
    `update endpoints set failing_since = null, consecutive_failures = 0, circuit_open_until = null
      where id = $1 and (failing_since is not null or consecutive_failures > 0 or circuit_open_until is not null)`,
    [id],
  );
}

/**
 * Lets exactly one attempt probe an endpoint whose circuit's wait is over: the winner moves the wait on by
 * another cooldown (so everyone else keeps waiting) and sends; its outcome closes or keeps the circuit.
 */
export async function claimCircuitProbe(db: Queryable, id: string, cooldownMs: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `update endpoints set circuit_open_until = now() + make_interval(secs => $2::float / 1000)
      where id = $1 and circuit_open_until <= now()`,
    [id, cooldownMs],
  );
  return rowCount === 1;
}

/**
 * Takes one token from the endpoint's bucket (capacity and refill: rate_limit_per_second); false when empty.
 * The row is the bucket, so every worker process draws from the same one.
 */
export async function takeRateToken(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `with bucket as (
       select id, least(rate_limit_per_second::float,
                        coalesce(rate_tokens, rate_limit_per_second)
                          + extract(epoch from clock_timestamp() - coalesce(rate_refilled_at, clock_timestamp()))
                            * rate_limit_per_second) as tokens
         from endpoints where id = $1 for update
     )
     update endpoints e set rate_tokens = bucket.tokens - 1, rate_refilled_at = clock_timestamp()
       from bucket where e.id = bucket.id and bucket.tokens >= 1`,
    [id],
  );
  return rowCount === 1;
}

/**
 * Starts (or continues) the endpoint's failure streak; disables it when the streak has lasted `disableAfterMs`.
 * Returns the endpoint when this call disabled it, and until when its circuit is open now (null: closed).
 */
export async function recordEndpointFailure(
  db: Queryable,
  id: string,
  policy: { disableAfterMs: number; circuitThreshold: number; circuitCooldownMs: number },
  /** A Retry-After: the whole endpoint waits this long (or longer, if paused longer already). */
  pauseMs?: number,
): Promise<{ disabled?: EndpointRow; circuitOpenUntil: Date | null }> {
  // Two statements: one statement cannot update the same row twice (a CTE's change would be lost).
  const streak = await db.query<{ failing_since: Date; circuit_open_until: Date | null }>(
    `update endpoints set failing_since = coalesce(failing_since, now()), consecutive_failures = consecutive_failures + 1,
            circuit_open_until = case
              when consecutive_failures + 1 >= $2 and circuit_open_until is null
              then now() + make_interval(secs => $3::float / 1000) else circuit_open_until end,
            paused_until = case when $4::float is null then paused_until
              else greatest(paused_until, now() + make_interval(secs => $4::float / 1000)) end
      where id = $1 and not disabled returning failing_since, circuit_open_until`,
    [id, policy.circuitThreshold, policy.circuitCooldownMs, pauseMs ?? null],
  );
  const row = streak.rows[0];
  const circuitOpenUntil = row?.circuit_open_until ?? null;
  if (!row || Date.now() - row.failing_since.getTime() < policy.disableAfterMs) return { circuitOpenUntil };
  const { rows } = await db.query<EndpointRow>(
    'update endpoints set disabled = true, updated_at = now() where id = $1 and not disabled returning *',
    [id],
  );
  return { disabled: rows[0], circuitOpenUntil };
}
