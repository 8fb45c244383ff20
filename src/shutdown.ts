// Turns SIGTERM/SIGINT into one graceful stop with a deadline; a second signal exits at once.
import { constants } from 'node:os';
import type { Logger } from './log.ts';

export function stopOnSignals(log: Logger, deadlineMs: number, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(128 + constants.signals[signal]);
    }
    stopping = true;
    log.info({ signal, deadlineMs }, 'shutting down: draining in-flight work');
    const deadline = setTimeout(() => {
      log.error({ deadlineMs }, 'shutdown deadline passed: exiting with work unfinished');
      process.exit(1);
    }, deadlineMs);
    deadline.unref();
    stop().then(
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
