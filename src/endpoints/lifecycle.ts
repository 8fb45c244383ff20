// An endpoint's life in one place: registered, read, changed (its tenant may disable and enable it), its secret
// rotated, a test event sent, disabled after failing too long, deleted. Closing one (disabled, deleted) flips
// its row and queues its drain (delivery/drain.ts) in the same transaction: what waits for it is dead-lettered
// afterwards, in batches, ending with one endpoint.disabled alert.
import type { Needs } from '../context.ts';
import { owners } from '../crypto/secret-box.ts';
import { INITIAL_LIMIT } from '../delivery/concurrency.ts';
import { requestDrain } from '../delivery/drain.ts';
import { fanOut } from '../delivery/fan-out.ts';
import { EndpointNotFound, Unprocessable } from '../errors.ts';
import { newId } from '../ids.ts';
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
} from '../store/endpoints.ts';
import { concurrencyOf } from '../store/receiver-concurrency.ts';
import { type Tx, withTransaction } from '../store/transaction.ts';
import { generateSigningSecret } from '../tenants/keys.ts';

/** How long a rotated-out secret keeps signing beside the new one. */
const ROTATION_GRACE_SECONDS = 24 * 3600;

/** An endpoint as its tenant registers it: a URL, and any other field (the API's schema checks their shape). */
export type EndpointInput = Pick<EndpointFields, 'url'> & Partial<EndpointFields>;

/** An endpoint as the API shows it, its signing secret opened and its delivery concurrency now. */
export type EndpointView = Omit<EndpointFields, 'maxConcurrency'> & {
  id: string;
  /** As set, or the default. */
  maxConcurrency: number;
  /** Summed over the dispatching processes reporting it (store/receiver-concurrency.ts). */
  concurrency: { limit: number; inFlight: number };
  pausedUntil: string | null;
  createdAt: string;
  updatedAt: string;
  secret: string;
};

type Concurrency = EndpointView['concurrency'];

function viewOf(
  ctx: Needs<'config'>,
  row: EndpointRow,
  secret: string,
  concurrency: Concurrency | undefined,
): EndpointView {
  const maxConcurrency = row.max_concurrency ?? ctx.config.deliveryEndpointConcurrency;
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: row.event_types,
    rateLimitPerSecond: row.rate_limit_per_second,
    headers: row.headers,
    disabled: row.disabled,
    maxConcurrency,
    adaptiveConcurrency: row.adaptive_concurrency,
    // No process delivering to it now: the limit the first one would start at.
    concurrency: concurrency ?? {
      limit: row.adaptive_concurrency ? Math.min(INITIAL_LIMIT, maxConcurrency) : maxConcurrency,
      inFlight: 0,
    },
    pausedUntil:
      row.paused_until && row.paused_until.getTime() > Date.now() ? row.paused_until.toISOString() : null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    secret,
  };
}

/** The rows' views: secrets opened (they may be sealed at rest, HOOKRELAY_ENCRYPTION_KEY), concurrency read. */
async function views(
  ctx: Needs<'config' | 'pool' | 'secrets'>,
  rows: EndpointRow[],
): Promise<EndpointView[]> {
  const concurrency =
    rows.length > 0
      ? await concurrencyOf(
          ctx.pool,
          rows.map((row) => row.id),
        )
      : new Map();
  return rows.map((row) =>
    viewOf(ctx, row, ctx.secrets.open(row.secret, owners.endpoint(row.id)), concurrency.get(row.id)),
  );
}

const view = async (ctx: Needs<'config' | 'pool' | 'secrets'>, row: EndpointRow) =>
  (await views(ctx, [row]))[0] as EndpointView;

async function checkUrl(ctx: Needs<'outbound'>, url: string): Promise<void> {
  const refused = await ctx.outbound.check(new URL(url));
  if (refused) throw new Unprocessable(`The endpoint URL is not allowed: ${refused}.`);
}

export async function createEndpoint(
  ctx: Needs<'config' | 'outbound' | 'pool' | 'secrets'>,
  tenantId: string,
  input: EndpointInput,
): Promise<EndpointView> {
  await checkUrl(ctx, input.url);
  const id = newId('ep');
  const secret = generateSigningSecret();
  const row = await insertEndpoint(ctx.pool, {
    id,
    tenantId,
    secret: ctx.secrets.seal(secret, owners.endpoint(id)),
    url: input.url,
    description: input.description ?? '',
    eventTypes: input.eventTypes ?? null,
    rateLimitPerSecond: input.rateLimitPerSecond ?? null,
    headers: input.headers ?? {},
    disabled: input.disabled ?? false,
    maxConcurrency: input.maxConcurrency ?? null,
    adaptiveConcurrency: input.adaptiveConcurrency ?? true,
  });
  return viewOf(ctx, row, secret, undefined);
}

async function existing(ctx: Needs<'pool'>, tenantId: string, id: string): Promise<EndpointRow> {
  const row = await getEndpoint(ctx.pool, tenantId, id);
  if (!row) throw new EndpointNotFound(id);
  return row;
}

export async function showEndpoint(
  ctx: Needs<'config' | 'pool' | 'secrets'>,
  tenantId: string,
  id: string,
): Promise<EndpointView> {
  return view(ctx, await existing(ctx, tenantId, id));
}

/** One page, newest first: `limit` of them, and one more if there is a next page. */
export async function listEndpointsOf(
  ctx: Needs<'config' | 'pool' | 'secrets'>,
  tenantId: string,
  page: { limit: number; before?: string },
): Promise<EndpointView[]> {
  return views(ctx, await listEndpoints(ctx.pool, tenantId, page.limit, page.before));
}

/** Changes the fields given; disabling it closes it (its drain is queued). */
export async function changeEndpoint(
  ctx: Needs<'boss' | 'config' | 'outbound' | 'pool' | 'secrets'>,
  tenantId: string,
  id: string,
  input: Partial<EndpointInput>,
): Promise<EndpointView> {
  if (input.url !== undefined) await checkUrl(ctx, input.url);
  const row = await withTransaction(ctx.pool, async (tx) => {
    // Merged with the row as it is under lock: a change racing another (an automatic disable, say) keeps the
    // fields this request did not send as that one left them.
    const current = await lockEndpoint(tx, tenantId, id);
    if (!current) throw new EndpointNotFound(id);
    const changed = await updateEndpoint(tx, tenantId, id, {
      url: input.url ?? current.url,
      description: input.description ?? current.description,
      eventTypes: input.eventTypes === undefined ? current.event_types : input.eventTypes,
      rateLimitPerSecond:
        input.rateLimitPerSecond === undefined ? current.rate_limit_per_second : input.rateLimitPerSecond,
      headers: input.headers ?? current.headers,
      disabled: input.disabled ?? current.disabled,
      maxConcurrency: input.maxConcurrency === undefined ? current.max_concurrency : input.maxConcurrency,
      adaptiveConcurrency: input.adaptiveConcurrency ?? current.adaptive_concurrency,
    });
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
  return view(ctx, row);
}

/** Disables an endpoint that kept failing, in the transaction of the attempt that found it failing too long. */
export async function disableFailingEndpoint(
  ctx: Needs<'boss' | 'log'>,
  tx: Tx,
  endpoint: EndpointRow,
): Promise<void> {
  await requestDrain(ctx, tx, {
    endpointId: endpoint.id,
    tenantId: endpoint.tenant_id,
    reason: 'endpoint_disabled',
    alert: {
      url: endpoint.url,
      failingSince: endpoint.failing_since?.toISOString() ?? null,
      closedAt: endpoint.updated_at.toISOString(),
      cause: 'failing',
    },
  });
  ctx.log.warn({ endpointId: endpoint.id }, 'endpoint disabled after failing too long');
}

/** Deletes it at once; what waits for it is dead-lettered afterwards, in batches (claims leave it alone). */
export async function removeEndpoint(
  ctx: Needs<'boss' | 'pool'>,
  tenantId: string,
  id: string,
): Promise<void> {
  await withTransaction(ctx.pool, async (tx) => {
    const deleted = await deleteEndpoint(tx, tenantId, id);
    if (!deleted) throw new EndpointNotFound(id);
    const deletedAt = await databaseNow(tx);
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
}

/** A new signing secret; the previous one keeps signing beside it for a day. Returns the new one. */
export async function rotateEndpointSecret(
  ctx: Needs<'pool' | 'secrets'>,
  tenantId: string,
  id: string,
): Promise<string> {
  const secret = generateSigningSecret();
  const sealed = ctx.secrets.seal(secret, owners.endpoint(id));
  const row = await rotateSecret(ctx.pool, tenantId, id, sealed, ROTATION_GRACE_SECONDS);
  if (!row) throw new EndpointNotFound(id);
  return secret;
}

/** Sends an endpoint.test event to the endpoint now; returns its message id. */
export async function sendTestEvent(ctx: Needs<'pool'>, tenantId: string, id: string): Promise<string> {
  const endpoint = await existing(ctx, tenantId, id);
  const [messageId] = await withTransaction(ctx.pool, (tx) =>
    fanOut(
      tx,
      { tenantId, jobId: null, type: 'endpoint.test', data: { endpointId: endpoint.id } },
      { kind: 'endpoint', endpoint },
    ),
  );
  return messageId as string;
}
