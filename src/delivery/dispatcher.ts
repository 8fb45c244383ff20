// Delivers messages from the pg-boss queue: sign, send, classify, then record the attempt and the message's
// next step (delivered, a scheduled retry, or a dead letter) in one transaction.

import type { Job } from 'pg-boss';
import type { AppContext } from '../context.ts';
import { owners } from '../crypto/secret-box.ts';
import { newId } from '../ids.ts';
import {
  DELIVERY_QUEUE,
  type DeliveryEntryData,
  enqueueDeliveries,
  newEntryId,
  receiverOf,
} from '../queue/delivery-queue.ts';
import {
  claimCircuitProbe,
  type EndpointRow,
  getEndpoint,
  recordEndpointFailure,
  recordEndpointSuccess,
  takeRateToken,
} from '../store/endpoints.ts';
import {
  findMessage,
  insertAttempt,
  lockMessage,
  type MessageRow,
  updateMessage,
} from '../store/messages.ts';
import { getTenant } from '../store/tenants.ts';
import { type Tx, withTransaction } from '../store/transaction.ts';
import { VERSION } from '../version.ts';
import { classify, type Outcome } from './classify.ts';
import { deadLetter } from './dead-letter.ts';
import { disableEndpoint } from './disable.ts';
import { deliveryExpirySeconds } from './fan-out.ts';
import { nextDelayMs } from './retry-policy.ts';
import { type SendResult, send } from './send.ts';
import { signatureHeader } from './sign.ts';

export async function startDispatcher(ctx: AppContext): Promise<void> {
  await ctx.boss.work<DeliveryEntryData>(
    DELIVERY_QUEUE,
    {
      batchSize: 1,
      localConcurrency: ctx.config.deliveryConcurrency,
      // At most this many attempts in flight per receiver across every worker process, so a slow or hanging
      // receiver occupies a few slots and every other receiver keeps being served.
      groupConcurrency: ctx.config.deliveryEndpointConcurrency,
      // Retries are deferred entries, which NOTIFY does not announce when they fall due: poll often.
      pollingIntervalSeconds: 1,
      notifyPollingIntervalSeconds: 1,
      // With a backlog, a worker that just finished an attempt fetches the next at once instead of sleeping out
      // the poll interval (which held each receiver to about groupConcurrency attempts per second).
      burstWhenReadyExceeds: 1,
    },
    async ([entry]) => {
      if (entry) await deliver(ctx, entry);
    },
  );
}

type Target =
  | { url: string; secrets: string[]; headers: Record<string, string>; endpoint?: EndpointRow }
  | { deadReason: 'endpoint_deleted' | 'endpoint_disabled' };

/** Where and how to send: the endpoint as it is now (URL, secrets, headers), or the job's callbackUrl. */
async function target(ctx: AppContext, message: MessageRow): Promise<Target> {
  if (message.endpoint_id === null) {
    const tenant = await getTenant(ctx.pool, message.tenant_id);
    const secrets = tenant ? [ctx.secrets.open(tenant.signing_secret, owners.tenant(tenant.id))] : [];
    return { url: message.url, secrets, headers: {} };
  }
  const endpoint: EndpointRow | undefined = await getEndpoint(
    ctx.pool,
    message.tenant_id,
    message.endpoint_id,
  );
  if (!endpoint) return { deadReason: 'endpoint_deleted' };
  if (endpoint.disabled) return { deadReason: 'endpoint_disabled' };
  const rotating =
    endpoint.previous_secret &&
    endpoint.previous_secret_expires_at &&
    endpoint.previous_secret_expires_at > new Date();
  return {
    url: endpoint.url,
    secrets: (rotating && endpoint.previous_secret
      ? [endpoint.secret, endpoint.previous_secret]
      : [endpoint.secret]
    ).map((stored) => ctx.secrets.open(stored, owners.endpoint(endpoint.id))),
    headers: endpoint.headers,
    endpoint,
  };
}

/** Spreads deferred attempts a little, so a circuit that closes is not hit by every waiting message at once. */
const DEFER_JITTER_MS = 250;

/**
 * Whether an attempt to this endpoint may go now: undefined if so, or until when it should wait. An open
 * circuit holds every attempt until its cooldown is over, then lets one probe; a rate limit holds attempts
 * while the endpoint's bucket (shared by all workers) is empty.
 */
async function admission(ctx: AppContext, endpoint: EndpointRow): Promise<Date | undefined> {
  const now = Date.now();
  if (endpoint.circuit_open_until) {
    if (endpoint.circuit_open_until.getTime() > now) return endpoint.circuit_open_until;
    if (!(await claimCircuitProbe(ctx.pool, endpoint.id, ctx.config.circuitCooldownMs))) {
      return new Date(now + ctx.config.circuitCooldownMs);
    }
  }
  if (endpoint.rate_limit_per_second && !(await takeRateToken(ctx.pool, endpoint.id))) {
    return new Date(now + Math.ceil(1000 / endpoint.rate_limit_per_second));
  }
  return undefined;
}

/** Enqueues the message's next attempt at `at` as a new entry (the old one becomes stale) and records it. */
async function scheduleNextAttempt(
  ctx: AppContext,
  tx: Tx,
  message: MessageRow,
  at: Date,
  change: { attemptsDelta: number; lastError: string | null; lastResponseStatus: number | null },
): Promise<void> {
  const entryId = newEntryId();
  await enqueueDeliveries(
    ctx.boss,
    tx,
    [{ messageId: message.id, entryId, receiver: receiverOf(message), startAfter: at }],
    deliveryExpirySeconds(ctx),
  );
  await updateMessage(tx, message.id, {
    ...change,
    status: 'pending',
    queueEntryId: entryId,
    nextAttemptAt: at,
  });
}

/** Moves the message's next attempt to `until` without counting an attempt: it waits, nothing is dropped. */
async function defer(
  ctx: AppContext,
  entry: Job<DeliveryEntryData>,
  messageId: string,
  until: Date,
): Promise<void> {
  await withTransaction(ctx.pool, async (tx) => {
    const message = await lockMessage(tx, messageId);
    if (!message || message.queue_entry_id !== entry.id || message.status !== 'pending') return;
    await scheduleNextAttempt(
      ctx,
      tx,
      message,
      new Date(until.getTime() + Math.round(Math.random() * DEFER_JITTER_MS)),
      {
        attemptsDelta: 0,
        lastError: message.last_error,
        lastResponseStatus: message.last_response_status,
      },
    );
  });
}

async function deliver(ctx: AppContext, entry: Job<DeliveryEntryData>): Promise<void> {
  const message = await findMessage(ctx.pool, entry.data.messageId);
  if (!message || message.queue_entry_id !== entry.id || message.status !== 'pending') return;
  const to = await target(ctx, message);
  if ('deadReason' in to) {
    await withTransaction(ctx.pool, async (tx) => {
      const locked = await lockMessage(tx, message.id);
      if (locked && locked.queue_entry_id === entry.id && locked.status === 'pending') {
        await deadLetter(ctx, tx, locked, to.deadReason);
      }
    });
    return;
  }
  const wait = to.endpoint ? await admission(ctx, to.endpoint) : undefined;
  if (wait) {
    await defer(ctx, entry, message.id, wait);
    ctx.metrics.deliveryAttempts.inc({ outcome: 'deferred' });
    return;
  }
  const body = JSON.stringify(message.payload);
  const timestamp = Math.floor(Date.now() / 1000);
  const attemptedAt = new Date();
  const result = await send(ctx.deliveryOutbound, {
    url: to.url,
    body,
    timeoutMs: ctx.config.deliveryTimeoutMs,
    headers: {
      // The endpoint's own headers first: ours (validated as not reserved at registration) always win.
      ...to.headers,
      'content-type': 'application/json',
      'user-agent': `hookrelay/${VERSION}`,
      'webhook-id': message.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(to.secrets, message.id, timestamp, body),
      ...(message.job_id && { 'x-job-id': message.job_id }),
    },
  });
  const outcome = classify(result);
  await settle(ctx, entry, message.id, attemptedAt, result, outcome);
  ctx.metrics.deliveryAttempts.inc({ outcome: outcome.kind });
  ctx.metrics.deliveryDuration.observe({ outcome: outcome.kind }, result.durationMs / 1000);
}

async function settle(
  ctx: AppContext,
  entry: Job<DeliveryEntryData>,
  messageId: string,
  attemptedAt: Date,
  result: SendResult,
  outcome: Outcome,
): Promise<void> {
  await withTransaction(ctx.pool, async (tx) => {
    const message = await lockMessage(tx, messageId);
    // Settled meanwhile by another holder of this entry (a worker presumed dead that was not): nothing to do.
    if (!message || message.queue_entry_id !== entry.id || message.status !== 'pending') return;
    await insertAttempt(tx, {
      id: newId('att'),
      message_id: messageId,
      attempted_at: attemptedAt,
      duration_ms: result.durationMs,
      response_status: result.status,
      response_body: result.body,
      error: outcome.kind === 'retry' ? outcome.error : result.error,
    });
    const last = { attemptsDelta: 1, lastResponseStatus: result.status };
    if (outcome.kind === 'delivered') {
      await updateMessage(tx, messageId, {
        ...last,
        status: 'delivered',
        lastError: null,
        nextAttemptAt: null,
      });
      if (message.endpoint_id) await recordEndpointSuccess(tx, message.endpoint_id);
      return;
    }
    const error = outcome.kind === 'gone' ? 'receiver answered 410 Gone' : outcome.error;
    const disabled = message.endpoint_id
      ? await recordEndpointFailure(tx, message.endpoint_id, {
          disableAfterMs: ctx.config.endpointDisableAfterMs,
          circuitThreshold: ctx.config.circuitThreshold,
          circuitCooldownMs: ctx.config.circuitCooldownMs,
        })
      : undefined;
    if (disabled) {
      await updateMessage(tx, messageId, {
        ...last,
        status: 'pending',
        lastError: error,
        nextAttemptAt: null,
      });
      await disableEndpoint(ctx, tx, disabled);
      return;
    }
    const attempted = message.attempts + 1;
    const scheduled =
      outcome.kind === 'retry' ? nextDelayMs(attempted, ctx.config.deliveryRetryScheduleMs) : undefined;
    if (outcome.kind === 'gone' || scheduled === undefined) {
      const updated = await updateMessage(tx, messageId, {
        ...last,
        status: 'pending',
        lastError: error,
        nextAttemptAt: null,
      });
      await deadLetter(ctx, tx, updated, outcome.kind === 'gone' ? 'gone' : 'exhausted');
      return;
    }
    const delayMs =
      outcome.kind === 'retry' && outcome.retryAfterMs !== undefined ? outcome.retryAfterMs : scheduled;
    await scheduleNextAttempt(ctx, tx, message, new Date(Date.now() + delayMs), {
      ...last,
      lastError: error,
    });
  });
}
