// Creates the pg-boss instance for a role: API processes enqueue; worker processes also supervise and schedule.
import { PgBoss } from 'pg-boss';
import type { Config } from '../config/config.ts';
import type { Logger } from '../log.ts';
import { isDatabaseUnavailable } from '../store/unavailable.ts';

export function createBoss(url: string, config: Config, log: Logger): PgBoss {
  const runsWorkers = config.role !== 'api';
  const boss = new PgBoss({
    connectionString: url,
    max: config.databasePoolSize,
    application_name: `hookrelay-${config.role}-boss`,
    migrate: true,
    supervise: runsWorkers,
    schedule: runsWorkers,
    useListenNotify: true,
    // Lost entries (missed heartbeats) are failed, and so retried elsewhere, in the per-queue monitor pass: with
    // these intervals a dead worker's job is picked up again about JOB_HEARTBEAT + 5 s after it died.
    superviseIntervalSeconds: 5,
    monitorIntervalSeconds: 5,
    // Workers fetch again at once while the queue has a backlog (burstWhenReadyExceeds); that backlog figure
    // comes from this cache, so keep it fresh.
    queueCacheIntervalSeconds: 2,
    instanceName: `hookrelay-${config.role}`,
  });
  // Without an error listener pg-boss errors (a dropped connection during maintenance) crash the process.
  // A database that is away (restarting, failing over) is logged as a warning: the service keeps trying and
  // answers 503 meanwhile, and anything else pg-boss reports stays an error.
  boss.on('error', (error) => {
    if (isDatabaseUnavailable(error)) log.warn({ err: error }, 'pg-boss: database unavailable');
    else log.error({ err: error }, 'pg-boss error');
  });
  boss.on('warning', (warning) => log.warn({ warning }, 'pg-boss warning'));
  return boss;
}

/**
 * How long pg-boss keeps an entry after it completed. Our own tables record every attempt, so a finished entry
 * is of no further use; pg-boss's default of 7 days grows its table (and every fetch's work) with traffic.
 */
export const FINISHED_ENTRY_SECONDS = 300;

/**
 * Deliveries were a pg-boss queue before they moved to the messages table (migration 0004), which made their
 * pending messages due again: the old queue's entries are of no use any more.
 */
export async function dropRetiredQueues(boss: PgBoss): Promise<void> {
  if (await boss.getQueue('hookrelay-deliveries')) await boss.deleteQueue('hookrelay-deliveries');
}

/** Creates a queue, or brings an existing one's options up to date (createQueue leaves those as they were). */
export async function ensureQueue(
  boss: PgBoss,
  name: string,
  options: { notify: boolean; heartbeatSeconds: number },
) {
  await boss.createQueue(name, { ...options, deleteAfterSeconds: FINISHED_ENTRY_SECONDS });
  await boss.updateQueue(name, { ...options, deleteAfterSeconds: FINISHED_ENTRY_SECONDS });
}
