// The loop both queues run (job attempts in jobs/runner.ts, deliveries in delivery/claimer.ts): claim up to the
// free capacity, again while a claim came back full, on a NOTIFY that work fell due, and on a short poll for what
// falls due silently (a retry's backoff, a lease run out). One claim at a time per process; a wake-up that comes
// while one is in flight makes it claim once more when it returns.
import { soon } from './soon.ts';

export interface ClaimLoopOptions {
  /** How many the next claim may take now (free slots, bounded by the batch size); 0 or less: none. */
  room(): number;
  /**
   * Claims up to `limit` and starts what it got; resolves true when another claim may find more (it came back
   * full and there is room for it).
   */
  claim(limit: number): Promise<boolean>;
  /** Subscribes `wake` to the notifications that work fell due; returns the unsubscribe. */
  listen(wake: () => void): () => void;
  pollMs: number;
  /** A claim that failed (the database away, say): the poll tries again. */
  onError(error: unknown): void;
}

export interface ClaimLoop {
  /** Many slots free in one turn of the event loop (attempts ending together): one claim serves them all. */
  wakeSoon(): void;
  /** True when the last claim found no room or came back full: a slot that frees should claim. */
  readonly backlogged: boolean;
  /** True while a claim is in flight. */
  readonly claiming: boolean;
  /** Stops claiming; resolves when the claim in flight (if any) has returned. */
  stop(): Promise<void>;
}

export function startClaimLoop(options: ClaimLoopOptions): ClaimLoop {
  let inFlight: Promise<void> | undefined;
  let again = false;
  let backlogged = false;
  let stopped = false;

  function wake(): void {
    if (stopped) return;
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = claimWhileRoom()
      .catch(options.onError)
      .finally(() => {
        inFlight = undefined;
      });
  }

  async function claimWhileRoom(): Promise<void> {
    do {
      again = false;
      const limit = options.room();
      if (limit <= 0) {
        backlogged = true;
        return; // the next slot to free wakes us
      }
      backlogged = await options.claim(limit);
      if (backlogged) again = true;
    } while (again && !stopped);
  }

  const poll = setInterval(wake, options.pollMs);
  // The process lives for its server and connections, not for this timer.
  poll.unref();
  const unlisten = options.listen(wake);
  wake();

  return {
    wakeSoon: soon(wake),
    get backlogged() {
      return backlogged;
    },
    get claiming() {
      return inFlight !== undefined;
    },
    async stop() {
      stopped = true;
      clearInterval(poll);
      unlisten();
      await inFlight;
    },
  };
}
