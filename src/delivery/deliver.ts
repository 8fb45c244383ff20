// One delivery attempt: admission (a disabled endpoint, an open circuit, a rate limit), sign and send,
// classify, then record the attempt and the message's next step.
import type { Needs } from '../context.ts';
import { disableFailingEndpoint } from '../endpoints/lifecycle.ts';
import { isDatabaseUnavailable } from '../errors.ts';
import { newId } from '../ids.ts';
import type { OneByOne } from '../one-by-one.ts';
import {
  countAttempt,
  type Delivered,
  noteLastError,
  postpone,
  updateMessage,
} from '../store/delivery-queue.ts';
import {
  claimCircuitProbe,
  type EndpointRow,
  recordEndpointFailure,
  recordEndpointSuccess,
  takeRateToken,
} from '../store/endpoints.ts';
import { type AttemptRow, insertAttempt, lockMessage, type MessageRow } from '../store/messages.ts';
import { withTransaction } from '../store/transaction.ts';
import { VERSION } from '../version.ts';
import { classify, type Outcome } from './classify.ts';
import type { AttemptFeedback } from './concurrency.ts';
import { deadLetter } from './dead-letter.ts';
import { nextDelayMs } from './retry-policy.ts';
import { type SendResult, send } from './send.ts';
import { signatureHeader } from './sign.ts';

export type RecordDelivered = (delivered: Delivered) => Promise<boolean>;

/** How soon a message whose attempt failed before anything was sent is due again. */
const GIVE_BACK_MS = 1_000;

/**
 * Runs a step that comes before sending (loading targets, admission, accounting): if it fails, nothing was sent,
 * so the message is given back unleased (no attempt counted) before the error goes on. If even that fails, the
 * database is away: the lease runs out and the next claim counts an attempt.
 */
export async function untilSent<T>(ctx: Needs<'pool'>, message: MessageRow, step: Promise<T>): Promise<T> {
  try {
    return await step;
  } catch (error) {
    await postpone(ctx.pool, message.id, message.lease_id, new Date(Date.now() + GIVE_BACK_MS)).catch(
      () => undefined,
    );
    throw error;
  }
}

export type Target =
  | { url: string; secrets: string[]; headers: Record<string, string>; endpoint?: EndpointRow }
  | { deadReason: 'endpoint_deleted' | 'endpoint_disabled' };

/** Spreads deferred attempts a little, so a circuit that closes is not hit by every waiting message at once. */
const DEFER_JITTER_MS = 250;

/**
 * Whether an attempt to this endpoint may go now: undefined if so, or until when it should wait. An open
 * circuit holds every attempt until its cooldown is over, then lets one probe; a rate limit holds attempts
 * while the endpoint's bucket (shared by all workers) is empty. (A Retry-After's pause: claimer.ts.)
 */
async function admission(ctx: Needs<'config' | 'pool'>, endpoint: EndpointRow): Promise<Date | undefined> {
  const now = Date.now();
  // The database's clock says whether the wait is over, as it did for the claim that took this message: by a
  // process clock behind it, the claim's probe would be given back as due already, and claimed again at once.
  // Read before the await: the row is shared by the attempts of one claim, and a success recorded meanwhile
  // clears it.
  const circuitOpenUntil = endpoint.circuit_open_until;
  if (circuitOpenUntil && !(await claimCircuitProbe(ctx.pool, endpoint.id, ctx.config.circuitCooldownMs))) {
    const until = circuitOpenUntil.getTime();
    return new Date(until > now ? until : now + ctx.config.circuitCooldownMs);
  }
  if (endpoint.rate_limit_per_second && !(await takeRateToken(ctx.pool, endpoint.id))) {
    return new Date(now + Math.ceil(1000 / endpoint.rate_limit_per_second));
  }
  return undefined;
}

/** Whether this attempt still holds the message: not settled, resent or claimed again meanwhile. */
const holds = (row: MessageRow | undefined, leaseId: string): row is MessageRow =>
  row !== undefined && row.lease_id === leaseId && row.status === 'pending' && row.leased;

/** What a claim counted for an attempt whose outcome its dispatcher never recorded. */
export const LOST_ATTEMPT_ERROR =
  'no outcome was recorded for this attempt: the dispatcher making it stopped, or could not write to the database';

/** A message as a dispatcher gets it: claimed (perhaps counting a lost attempt), or handed over fresh. */
type Leased = MessageRow & { lost?: boolean };

/** Answers that say the receiver has more than it can take now (none at all: a timeout, a refused connection). */
const PUSHBACK = new Set([429, 503]);

/** What an attempt's answer says about its receiver's load, for its concurrency limit (concurrency.ts). */
const feedbackOf = (result: SendResult, pauseMs: number | undefined): AttemptFeedback => ({
  rttMs: result.durationMs,
  overloaded: result.status === null || PUSHBACK.has(result.status),
  ...(pauseMs !== undefined && { pauseMs }),
});

export async function deliver(
  ctx: Needs<'boss' | 'config' | 'deliveryOutbound' | 'log' | 'metrics' | 'pool'>,
  message: Leased,
  to: Target | undefined,
  record: RecordDelivered,
  endpointRecords: OneByOne,
  signal: AbortSignal,
  answered: (feedback: AttemptFeedback) => void,
): Promise<void> {
  if (!to) return;
  if ('deadReason' in to) {
    await withTransaction(ctx.pool, async (tx) => {
      const locked = await lockMessage(tx, message.id);
      if (holds(locked, message.lease_id)) await deadLetter(ctx, tx, locked, to.deadReason);
    });
    return;
  }
  const maxAttempts = ctx.config.deliveryRetryScheduleMs.length + 1;
  if (
    (message.lost || message.attempts >= maxAttempts) &&
    (await untilSent(ctx, message, accountFor(ctx, message, maxAttempts)))
  )
    return;
  const wait = to.endpoint ? await untilSent(ctx, message, admission(ctx, to.endpoint)) : undefined;
  if (wait) {
    // The attempt waits without being counted: nothing is dropped.
    const at = new Date(wait.getTime() + Math.round(Math.random() * DEFER_JITTER_MS));
    await postpone(ctx.pool, message.id, message.lease_id, at);
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
    signal,
    headers: {
      // The endpoint's own headers first: ours (validated as not reserved at registration) always win.
      ...to.headers,
      'content-type': 'application/json',
      'user-agent': `hookrelay/${VERSION}`,
      'webhook-id': message.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(to.secrets, message.id, timestamp, body),
      // Not signed and not Standard Webhooks: the message's own attempt number (1 on the first), for receivers'
      // logs and `hookrelay listen`; it goes on counting across resends and replays, as attemptCount does.
      'webhook-attempt': String(message.earlier_attempts + message.attempts + 1),
      ...(message.job_id && { 'x-job-id': message.job_id }),
    },
  });
  const outcome = classify(result);
  // A Retry-After on 429 or 503 pauses the whole endpoint: recorded on its row (for the claims of every process)
  // and told to this process's limit (for the attempts it holds).
  const pauseMs =
    to.endpoint && outcome.kind === 'retry' && result.status !== null && PUSHBACK.has(result.status)
      ? outcome.retryAfterMs
      : undefined;
  // The receiver's slot is free once it answered: recording the attempt is ours.
  answered(feedbackOf(result, pauseMs));
  // The lease was lost meanwhile: another dispatcher may be sending; this attempt records nothing.
  if (signal.aborted) return;
  const attempt = {
    id: newId('att'),
    message_id: message.id,
    attempted_at: attemptedAt,
    duration_ms: result.durationMs,
    response_status: result.status,
    response_body: result.body,
    error: outcome.kind === 'retry' ? outcome.error : result.error,
  };
  ctx.metrics.deliveryAttempts.inc({ outcome: outcome.kind });
  ctx.metrics.deliveryDuration.observe({ outcome: outcome.kind }, result.durationMs / 1000);
  const recorded =
    outcome.kind === 'delivered' &&
    // A batch the database refused is recorded again one message at a time, below.
    (await record({ attempt, leaseId: message.lease_id, keyed: message.ordering_key !== null }).catch(
      () => false,
    ));
  if (recorded) {
    // Recording a delivery closes the endpoint's circuit (store/delivery-queue.ts): so for those waiting here too.
    if (to.endpoint) to.endpoint.circuit_open_until = null;
    return;
  }
  const settleAttempt = () => {
    const settling = () => settle(ctx, message.lease_id, attempt, result, outcome, pauseMs);
    // Aborted while it waited its turn (its lease lost, or the dispatcher stopping): the next claim counts it.
    return message.endpoint_id
      ? endpointRecords(message.endpoint_id, async () => (signal.aborted ? undefined : settling()))
      : settling();
  };
  try {
    const circuit = await settleAttempt();
    // The endpoint row is shared by the attempts of this claim that wait for a slot: they must see a circuit this
    // attempt opened (or closed) now, not the row as it was claimed, or they would all be sent into it.
    if (circuit !== undefined && to.endpoint) to.endpoint.circuit_open_until = circuit;
  } catch (error) {
    // A connection lost on the way: the same record once more. The database refused the full record: the
    // attempt still counts, with a second, minimal write. If that fails too, the next claim counts it. Never an
    // attempt that vanishes, to be made again and again.
    if (isDatabaseUnavailable(error)) {
      ctx.log.warn({ err: error, messageId: message.id }, 'delivery attempt not recorded; trying once more');
      await settleAttempt();
      return;
    }
    ctx.log.error(
      { err: error, messageId: message.id },
      'delivery attempt record refused; counting it alone',
    );
    const delivered = outcome.kind === 'delivered';
    const delayMs = delivered ? 0 : retryDelay(ctx, message.attempts + 1, outcome);
    await countAttempt(ctx.pool, {
      id: message.id,
      leaseId: message.lease_id,
      delivered,
      responseStatus: result.status,
      error: `${attempt.error ?? 'delivered'} (the attempt's details could not be recorded: ${(error as Error).message})`,
      nextAttemptAt: new Date(Date.now() + (delayMs ?? 0)),
    });
  }
}

/**
 * Before an attempt at a message whose count needs a look (a lost attempt counted by its claim, or a schedule
 * used up by such counts): records the lost attempt, and dead-letters a message with no attempt left. True when
 * nothing more is to be done with it.
 */
function accountFor(ctx: Needs<'metrics' | 'pool'>, message: Leased, maxAttempts: number): Promise<boolean> {
  return withTransaction(ctx.pool, async (tx) => {
    const locked = await lockMessage(tx, message.id);
    if (!holds(locked, message.lease_id)) return true;
    let current = locked;
    if (message.lost) {
      await insertAttempt(tx, {
        id: newId('att'),
        message_id: message.id,
        attempted_at: new Date(),
        duration_ms: 0,
        response_status: null,
        response_body: null,
        error: LOST_ATTEMPT_ERROR,
      });
      current = await noteLastError(tx, message.id, LOST_ATTEMPT_ERROR);
    }
    if (current.attempts < maxAttempts) return false;
    await deadLetter(ctx, tx, current, 'exhausted');
    return true;
  });
}

/** After a retry: when the next attempt runs, or undefined when the schedule is used up. */
function retryDelay(ctx: Needs<'config'>, attempted: number, outcome: Outcome): number | undefined {
  if (outcome.kind !== 'retry') return undefined;
  const scheduled = nextDelayMs(attempted, ctx.config.deliveryRetryScheduleMs);
  if (scheduled === undefined) return undefined;
  return outcome.retryAfterMs ?? scheduled;
}

/** Records an attempt and the message's next step in one transaction, if the attempt still holds it. */
async function settle(
  ctx: Needs<'boss' | 'config' | 'log' | 'metrics' | 'pool'>,
  leaseId: string,
  attempt: AttemptRow,
  result: SendResult,
  outcome: Outcome,
  pauseMs: number | undefined,
): Promise<Date | null | undefined> {
  const messageId = attempt.message_id;
  /** The endpoint's circuit after this attempt: open until, null when closed, undefined when not recorded. */
  let circuit: Date | null | undefined;
  await withTransaction(ctx.pool, async (tx) => {
    const message = await lockMessage(tx, messageId);
    // Settled meanwhile by another holder (a dispatcher whose lease ran out while it still sent), or resent.
    if (!holds(message, leaseId)) return;
    await insertAttempt(tx, attempt);
    const last = { attemptsDelta: 1, lastResponseStatus: result.status };
    if (outcome.kind === 'delivered') {
      await updateMessage(tx, messageId, {
        ...last,
        status: 'delivered',
        lastError: null,
        nextAttemptAt: null,
      });
      if (message.endpoint_id) await recordEndpointSuccess(tx, message.endpoint_id);
      circuit = null;
      return;
    }
    const error = outcome.kind === 'gone' ? 'receiver answered 410 Gone' : outcome.error;
    const failure = message.endpoint_id
      ? await recordEndpointFailure(
          tx,
          message.endpoint_id,
          {
            disableAfterMs: ctx.config.endpointDisableAfterMs,
            circuitThreshold: ctx.config.circuitThreshold,
            circuitCooldownMs: ctx.config.circuitCooldownMs,
          },
          pauseMs,
        )
      : undefined;
    circuit = failure?.circuitOpenUntil;
    const disabled = failure?.disabled;
    if (disabled) {
      // Due now, like everything else waiting for it: claims pass a disabled endpoint over, its drain takes
      // them, and if it is enabled again first they are sent after all.
      await updateMessage(tx, messageId, {
        ...last,
        status: 'pending',
        lastError: error,
        nextAttemptAt: new Date(),
      });
      await disableFailingEndpoint(ctx, tx, disabled);
      return;
    }
    const delayMs = retryDelay(ctx, message.attempts + 1, outcome);
    if (delayMs === undefined) {
      const updated = await updateMessage(tx, messageId, {
        ...last,
        status: 'pending',
        lastError: error,
        nextAttemptAt: null,
      });
      await deadLetter(ctx, tx, updated, outcome.kind === 'gone' ? 'gone' : 'exhausted');
      return;
    }
    await updateMessage(tx, messageId, {
      ...last,
      status: 'pending',
      lastError: error,
      nextAttemptAt: new Date(Date.now() + delayMs),
    });
  });
  return circuit;
}
