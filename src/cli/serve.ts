// `hookrelay serve`: run the service until SIGTERM/SIGINT.
import { loadConfig } from '../config/config.ts';
import { createLogger } from '../log.ts';
import { startService } from '../main.ts';
import { type Deadline, stopOnSignals } from '../shutdown.ts';

export async function serve(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  // Listen for signals before starting, so a SIGTERM during start-up still stops what has started.
  let stop: (deadline: Deadline) => Promise<void> = async () => {};
  stopOnSignals(log, config.shutdownTimeoutMs, (deadline) => stop(deadline));
  const service = await startService(config, log);
  stop = service.stop;
}
