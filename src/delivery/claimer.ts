// Keeps up to DELIVERY_CONCURRENCY deliveries in flight in this process: leases due messages in batches
// (at most DELIVERY_ENDPOINT_CONCURRENCY per receiver in flight here), renews the leases while they are held,
// and claims again whenever there is room and maybe work: on a NOTIFY that messages fell due, after each
// delivery ends, and on a short poll for retries whose time came (those announce nothing).
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppContext } from '../context.ts';
import { claimDue, type MessageRow, renewLeases } from '../store/messages.ts';
import { isDatabaseUnavailable } from '../store/unavailable.ts';

/** The most messages one claim leases: large enough to amortise the query, small enough to share work. */
const CLAIM_BATCH = 100;
/** How long a claimed message stays ours without renewal: a dispatcher killed mid-attempt delays it so long. */
const LEASE_MS = 30_000;
const RENEW_EVERY_MS = 10_000;
/** Retries fall due silently; this bounds how late one starts. */
const POLL_MS = 500;

export interface Claimer {
  /**
   * Stops claiming and waits for the deliveries in flight, up to a share of the shutdown deadline: one still
   * unfinished keeps its lease, and its message goes out again from another process when the lease ends.
   */
  stop(): Promise<void>;
}

/** `deliver` starts the batch's deliveries and returns one promise per message, in order. */
export type Deliver = (batch: MessageRow[]) => Array<Promise<void>>;

export function startClaimer(ctx: AppContext, deliver: Deliver): Claimer {
  const capacity = ctx.config.deliveryConcurrency;
  const perReceiver = ctx.config.deliveryEndpointConcurrency;
  const held = new Map<string, Promise<void>>(); // lease id → its delivery
  const inFlight = new Map<string, number>(); // receiver → deliveries in flight here
  let claiming: Promise<void> | undefined;
  let again = false;
  let wakeQueued = false;
  let stopped = false;

  const warn = (error: unknown, msg: string) =>
    isDatabaseUnavailable(error) ? ctx.log.warn({ err: error }, msg) : ctx.log.error({ err: error }, msg);

  function wake(): void {
    if (stopped) return;
    if (claiming) {
      again = true;
      return;
    }
    claiming = claimWhileRoom().finally(() => {
      claiming = undefined;
    });
  }

  /** Many deliveries end in one turn of the event loop: one claim serves them all. */
  function wakeSoon(): void {
    if (wakeQueued) return;
    wakeQueued = true;
    setImmediate(() => {
      wakeQueued = false;
      wake();
    });
  }

  async function claimWhileRoom(): Promise<void> {
    do {
      again = false;
      const limit = Math.min(capacity - held.size, CLAIM_BATCH);
      if (limit <= 0) return; // the next delivery to end wakes us
      let batch: MessageRow[];
      try {
        const rooms = new Map([...inFlight].map(([receiver, n]) => [receiver, perReceiver - n]));
        batch = await claimDue(ctx.pool, { limit, leaseMs: LEASE_MS, perReceiver, rooms });
      } catch (error) {
        warn(error, 'cannot claim deliveries; retrying');
        return; // the poll tries again
      }
      start(batch);
      // A full batch suggests more is due now.
      if (batch.length === limit) again = true;
    } while (again && !stopped);
  }

  function start(batch: MessageRow[]): void {
    const deliveries = deliver(batch);
    batch.forEach((message, i) => {
      inFlight.set(message.receiver, (inFlight.get(message.receiver) ?? 0) + 1);
      const delivery = (deliveries[i] as Promise<void>)
        .catch((error: unknown) =>
          warn(error, 'delivery attempt not recorded; it runs again when its lease ends'),
        )
        .finally(() => {
          held.delete(message.lease_id);
          const left = (inFlight.get(message.receiver) ?? 1) - 1;
          if (left > 0) inFlight.set(message.receiver, left);
          else inFlight.delete(message.receiver);
          wakeSoon();
        });
      held.set(message.lease_id, delivery);
    });
  }

  const poll = setInterval(wake, POLL_MS);
  const renew = setInterval(() => {
    if (held.size === 0) return;
    renewLeases(ctx.pool, [...held.keys()], LEASE_MS).catch((error: unknown) =>
      warn(error, 'cannot renew delivery leases'),
    );
  }, RENEW_EVERY_MS);
  // The process lives for its server and connections, not for these timers.
  poll.unref();
  renew.unref();
  const unsubscribe = ctx.events.onDeliveriesDue(wake);
  wake();

  return {
    async stop() {
      stopped = true;
      clearInterval(poll);
      clearInterval(renew);
      unsubscribe();
      await claiming;
      const waited = new AbortController();
      await Promise.race([
        Promise.allSettled([...held.values()]),
        sleep(ctx.config.shutdownTimeoutMs * 0.3, undefined, { signal: waited.signal }).catch(
          () => undefined,
        ),
      ]);
      waited.abort();
    },
  };
}
