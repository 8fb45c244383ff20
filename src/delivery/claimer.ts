// Keeps up to DELIVERY_CONCURRENCY deliveries in flight in this process: leases due messages in batches
// (at most each receiver's concurrency limit in flight here: receiver-limits.ts), renews the leases while they
// are held, and claims again whenever there is room and maybe work: on a NOTIFY that messages fell due for a
// receiver not full here, when a delivery ends with nothing waiting behind it, and on a short poll for retries
// whose time came (those announce nothing). A receiver's share beyond its limit waits here, leased, for a slot:
// the next attempt starts without a query, and a claim asks only for what fits.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Needs } from '../context.ts';
import { isDatabaseUnavailable } from '../errors.ts';
import { startClaimLoop } from '../queue/claim-loop.ts';
import { keepLeases } from '../queue/lease-keeper.ts';
import {
  type ClaimedMessage,
  deliveryQueue,
  nextCursor,
  postpone as postponeMessage,
} from '../store/delivery-queue.ts';
import type { MessageRow } from '../store/messages.ts';
import { type AttemptFeedback, INITIAL_LIMIT } from './concurrency.ts';
import { type ReceiverSettings, receiverLimits } from './receiver-limits.ts';

/** Retries fall due silently; this bounds how late one starts. */
const POLL_MS = 500;
/** The most messages one claim takes, across receivers. */
const CLAIM_BATCH = 100;

/** A process's dispatcher, as the rest of the process sees it (made by dispatcher.ts on this claimer). */
export interface Dispatcher {
  /** Opens a hand-over of messages about to be written in a transaction (see Handoff). */
  handoff(): Handoff;
  /**
   * Stops claiming and waits for the deliveries in flight until `until` (ms since the epoch): one still
   * unfinished keeps its lease, and its message goes out again from another process when the lease ends.
   */
  stop(until: number): Promise<void>;
}

/**
 * `prepare` receives each claimed batch (to load what its deliveries need, once) and returns the function
 * that makes one message's attempt; `signal` aborts it when the lease is lost (another dispatcher may send). An
 * attempt that reached the receiver calls `answered` as soon as the answer is in (before recording it), with
 * what it says about the receiver's load: the receiver's slot is free from then on.
 */
export type Prepare = (batch: MessageRow[]) => Send;
type Send = (
  message: MessageRow,
  signal: AbortSignal,
  answered: (feedback: AttemptFeedback) => void,
) => Promise<void>;

/**
 * Messages written by this process (a job's end) can skip the claim: `reserve` says whether this dispatcher
 * takes one for a receiver now (it then counts against the receiver's share until the hand-over ends), the
 * message is written already leased, and after the commit `adopt` starts the rows. A transaction that fails
 * calls `cancel`. Leased rows that never reach `adopt` (the process died) fall due when the lease runs out.
 */
export interface Handoff {
  /** The lease the rows are written with: the dispatcher's (DELIVERY_LEASE). */
  leaseMs: number;
  /** `settings`: the receiver's endpoint's concurrency settings, when the writer has its row. */
  reserve(receiver: string, settings?: ReceiverSettings): boolean;
  adopt(rows: MessageRow[]): void;
  cancel(): void;
}

interface Receiver {
  running: number;
  /** Slots promised to hand-overs whose transactions have not committed yet. */
  reserved: number;
  /** Claimed messages waiting for one of this receiver's slots here. */
  waiting: Array<{ message: MessageRow; send: Send }>;
}

export function startClaimer(
  ctx: Needs<'config' | 'log' | 'metrics' | 'notifications' | 'pool'>,
  prepare: Prepare,
): Dispatcher {
  const capacity = ctx.config.deliveryConcurrency;
  const limits = receiverLimits(ctx);
  /** What a claim may take for a receiver not running here: twice where a new limit starts. */
  const firstRoom = 2 * Math.min(INITIAL_LIMIT, ctx.config.deliveryEndpointConcurrency);
  /** How long a claimed message stays ours without renewal: a dispatcher killed mid-attempt delays it so long. */
  const leaseMs = ctx.config.deliveryLeaseMs;
  /** Every message leased here, running or waiting, by lease id: its id, and its attempt once running. */
  const held = new Map<string, { id: string; attempt?: Promise<void>; abort?: AbortController }>();
  const leases = keepLeases({
    pool: ctx.pool,
    queue: deliveryQueue,
    leaseMs,
    log: ctx.log,
    metrics: ctx.metrics,
  });
  /** A lease lost: its attempt is aborted, or the message leaves the waiting line unsent. */
  const lost = (leaseId: string) => () => {
    const entry = held.get(leaseId);
    held.delete(leaseId);
    if (entry?.abort) return entry.abort.abort();
    for (const [name, receiver] of receivers) {
      const at = receiver.waiting.findIndex((w) => w.message.lease_id === leaseId);
      if (at >= 0) {
        receiver.waiting.splice(at, 1);
        forget(name, receiver);
        return;
      }
    }
  };
  /** Keeps a claimed message's lease; `since`: when the statement that took it was sent. */
  const hold = (message: MessageRow, since: number) =>
    leases.hold({ id: message.id, leaseId: message.lease_id, since }, lost(message.lease_id));
  const receivers = new Map<string, Receiver>();
  /** Attempts running here: at most DELIVERY_CONCURRENCY. Waiting messages do not count against it. */
  let running = 0;
  /** Slots promised to open hand-overs, across receivers. */
  let reserved = 0;
  /** The receiver the last claim stopped at: the next starts after it, so every receiver gets its turn. */
  let cursor = '';
  let stopped = false;

  const warn = (error: unknown, msg: string) =>
    isDatabaseUnavailable(error) ? ctx.log.warn({ err: error }, msg) : ctx.log.error({ err: error }, msg);
  const receiverOf = (name: string): Receiver => {
    let receiver = receivers.get(name);
    if (!receiver) {
      receiver = { running: 0, reserved: 0, waiting: [] };
      receivers.set(name, receiver);
    }
    return receiver;
  };
  /**
   * What a claim may take for a receiver here: its share running and as many waiting, less what it holds. A
   * receiver with none left is full: claims leave it out. Its waiting messages hold leases but no attempt slots,
   * so slow receivers cannot take the capacity others need.
   */
  const roomOf = (name: string) => {
    const receiver = receivers.get(name);
    const load = receiver ? receiver.running + receiver.reserved + receiver.waiting.length : 0;
    return Math.max(0, 2 * limits.limitOf(name) - load);
  };
  const isFull = (name: string) => roomOf(name) === 0;
  const forget = (name: string, receiver: Receiver) => {
    if (receiver.running === 0 && receiver.reserved === 0 && receiver.waiting.length === 0)
      receivers.delete(name);
  };

  /**
   * Takes up to `limit` due messages, within each receiver's room here, and starts or queues them. Another claim
   * is worth it if this one came back full and some receiver it served still has room.
   */
  async function claim(limit: number): Promise<boolean> {
    const since = Date.now();
    const rooms = new Map([...receivers.keys()].map((name) => [name, roomOf(name)]));
    const batch = await deliveryQueue.claim(ctx.pool, {
      limit,
      leaseMs,
      rooms,
      room: firstRoom,
      cursor,
    });
    cursor = nextCursor(cursor, batch);
    const send = prepare(batch);
    for (const message of batch) {
      learn(message);
      hold(message, since);
      admit(message, send);
    }
    return batch.length === limit && batch.some((message) => !isFull(message.receiver));
  }

  /** A claimed message carries its endpoint's concurrency settings. */
  function learn(message: ClaimedMessage): void {
    limits.learn(message.receiver, {
      maxConcurrency: message.max_concurrency,
      adaptive: message.adaptive_concurrency,
    });
  }

  /**
   * Whether another attempt may start for a receiver: fewer awaiting its answer than its limit, and fewer than
   * twice that still being recorded (the records of a failing receiver go one at a time: they must not pile up).
   */
  const startable = (name: string, receiver: Receiver) => {
    const limit = limits.limitOf(name);
    return limits.inFlight(name) < limit && receiver.running < 2 * limit;
  };

  function admit(message: MessageRow, send: Send): void {
    const receiver = receiverOf(message.receiver);
    if (startable(message.receiver, receiver) && running < capacity) run(message, send, receiver);
    else {
      receiver.waiting.push({ message, send });
      held.set(message.lease_id, { id: message.id });
    }
  }

  function run(message: MessageRow, send: Send, receiver: Receiver) {
    const paused = limits.pausedUntil(message.receiver);
    if (paused !== undefined) return postpone(message, receiver, new Date(paused));
    receiver.running += 1;
    running += 1;
    limits.started(message.receiver);
    let answered = false;
    const abort = new AbortController();
    const attempt = send(message, abort.signal, (feedback) => {
      answered = true;
      limits.ended(message.receiver, feedback);
      // Its slot at the receiver is free while the attempt is recorded.
      startWaiting(receiver);
    })
      .catch((error: unknown) =>
        warn(error, 'delivery attempt not recorded; it runs again when its lease ends'),
      )
      .finally(() => {
        if (!answered) limits.ended(message.receiver, undefined);
        held.delete(message.lease_id);
        leases.release(message.lease_id);
        receiver.running -= 1;
        running -= 1;
        forget(message.receiver, receiver);
        // The freed slot goes to a waiting message (this receiver's first), or else to a claim.
        if (!startWaiting(receiver)) loop.wakeSoon();
      });
    held.set(message.lease_id, { id: message.id, attempt, abort });
  }

  /** Starts a waiting message where a receiver has room, preferring `first`; false if none could start. */
  function startWaiting(first: Receiver): boolean {
    if (running + reserved >= capacity) return false;
    for (const receiver of [first, ...receivers.values()]) {
      const next = receiver.waiting[0];
      if (!next || !startable(next.message.receiver, receiver)) continue;
      receiver.waiting.shift();
      run(next.message, next.send, receiver);
      return true;
    }
    return false;
  }

  /**
   * Gives a message back unsent, due when a Retry-After's pause ends (the claims pass the endpoint over until
   * then), and lets the next waiting one try for the slot.
   */
  function postpone(message: MessageRow, receiver: Receiver, at: Date): void {
    held.delete(message.lease_id);
    leases.release(message.lease_id);
    forget(message.receiver, receiver);
    postponeMessage(ctx.pool, message.id, message.lease_id, at).catch((error: unknown) =>
      warn(error, 'cannot give a delivery back; it is claimed again when its lease ends'),
    );
    queueMicrotask(() => startWaiting(receiver));
  }

  /** Gives leased messages back, due now, for any dispatcher to claim. */
  function release(messages: MessageRow[]): void {
    for (const message of messages) {
      held.delete(message.lease_id);
      leases.release(message.lease_id);
      deliveryQueue
        .release(ctx.pool, { id: message.id, leaseId: message.lease_id })
        .catch((error: unknown) =>
          warn(error, 'cannot give a delivery back; it is claimed again when its lease ends'),
        );
    }
  }

  function handoff(): Handoff {
    // Before the transaction that writes the leased rows begins: their lease runs from its start (now()).
    const opened = Date.now();
    const promised: string[] = [];
    const settle = () => {
      for (const name of promised.splice(0)) {
        const receiver = receiverOf(name);
        receiver.reserved -= 1;
        reserved -= 1;
        forget(name, receiver);
      }
    };
    return {
      leaseMs,
      reserve(name, settings) {
        if (settings) limits.learn(name, settings);
        const receiver = receivers.get(name);
        // Only what can start at once: a receiver at its limit, or a full dispatcher, leaves it to the claims.
        // Attempts answered and being recorded do not hold the receiver's slots (as in `startable`).
        if (stopped || running + reserved >= capacity) return false;
        const limit = limits.limitOf(name);
        const queued = receiver ? receiver.reserved + receiver.waiting.length : 0;
        if (limits.inFlight(name) + queued >= limit || (receiver?.running ?? 0) >= 2 * limit) return false;
        receiverOf(name).reserved += 1;
        reserved += 1;
        promised.push(name);
        return true;
      },
      adopt(rows) {
        settle();
        if (rows.length === 0) return;
        if (stopped) return release(rows);
        const send = prepare(rows);
        for (const message of rows) {
          hold(message, opened);
          admit(message, send);
        }
      },
      cancel() {
        settle();
        // The slots promised may be claimed for others now.
        loop.wakeSoon();
      },
    };
  }

  // Every waiting message's receiver is at its share (startable ones were started), so free slots are for
  // receivers not yet here or below their share.
  const loop = startClaimLoop({
    room: () => Math.min(capacity - running - reserved, CLAIM_BATCH),
    claim,
    listen: (wake) =>
      ctx.notifications.onDeliveriesDue((names) => {
        // Due only for receivers full here: the end of one of their deliveries claims for them.
        if (names.length > 0 && names.every(isFull)) return;
        wake();
      }),
    pollMs: POLL_MS,
    onError: (error) => warn(error, 'cannot claim deliveries; retrying'),
  });

  return {
    handoff,
    async stop(until) {
      stopped = true;
      await loop.stop();
      release(
        [...receivers.values()].flatMap((receiver) => receiver.waiting.splice(0).map((w) => w.message)),
      );
      const waited = new AbortController();
      await Promise.race([
        Promise.allSettled([...held.values()].map((entry) => entry.attempt)),
        sleep(Math.max(0, until - Date.now()), undefined, { signal: waited.signal }).catch(() => undefined),
      ]);
      waited.abort();
      leases.stop();
      await limits.stop();
    },
  };
}
