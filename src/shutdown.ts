// Turns SIGTERM/SIGINT into one graceful stop with a deadline; a second, deliberate signal exits at once. The
// deadline is passed down to the parts that stop in turn, each of which must have stopped by its share of it.
import { constants } from 'node:os';
import type { Logger } from './log.ts';

/** One graceful stop's deadline, `ms` from its start (the process exits then, whether or not all stopped). */
export interface Deadline {
  /** The moment a `share` (0–1) of the time, counted from the start of the stop, has passed. */
  by(share: number): number;
}

export function deadlineIn(ms: number): Deadline {
  const start = Date.now();
  return { by: (share) => start + share * ms };
}

/**
 * How the deadline is shared, in the order things stop (main.ts): each part waits for its work until these shares
 * of it have passed, so time a part does not need goes to the next. Job attempts first (a job that ends while they drain still
 * hands its messages to the dispatcher), then deliveries, then pg-boss (it runs only the retention sweep, which
 * runs again at its next schedule if cut short); the rest closes connections and an embedded Postgres.
 */
export const STOPPED_BY = { jobs: 0.6, deliveries: 0.9, schedules: 0.95 } as const;

/**
 * Copies of a signal that arrive this soon after the first are the same request: a terminal's Ctrl-C reaches
 * node both from the terminal and forwarded by npm, and systemd's stop signals the whole process group.
 */
const SAME_REQUEST_MS = 1_000;

export function stopOnSignals(
  log: Logger,
  deadlineMs: number,
  stop: (deadline: Deadline) => Promise<void>,
): void {
  let stoppingSince: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince < SAME_REQUEST_MS) return;
      log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(128 + constants.signals[signal]);
    }
    stoppingSince = Date.now();
    log.info(
      { signal, deadlineMs },
      'shutting down: draining in-flight work (signal again to exit without waiting)',
    );
    const deadline = setTimeout(() => {
      log.error({ deadlineMs }, 'shutdown deadline passed: exiting with work unfinished');
      process.exit(1);
    }, deadlineMs);
    deadline.unref();
    stop(deadlineIn(deadlineMs)).then(
      () => {
        log.info('shutdown complete');
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
