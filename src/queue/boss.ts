// Creates the pg-boss instance for a role. pg-boss runs the scheduled maintenance (the retention sweep, on one
// worker at a time) in worker processes; job attempts and deliveries are queued in our own tables instead
// (migrations 0004 and 0005, docs/benchmarks.md).
import { PgBoss } from 'pg-boss';
import type { Config } from '../config/config.ts';
import { isDatabaseUnavailable } from '../errors.ts';
import type { Logger } from '../log.ts';

export function createBoss(url: string, config: Config, log: Logger): PgBoss {
  const runsWorkers = config.role !== 'api';
  const boss = new PgBoss({
    connectionString: url,
    // The cron pass, its send-it worker and the occurrence worker (src/schedules/), a few maintenance schedules
    // and pg-boss's own upkeep: each a short statement now and then.
    max: 4,
    application_name: `hookrelay-${config.role}-boss`,
    migrate: true,
    supervise: runsWorkers,
    schedule: runsWorkers,
    // The cron pass (one process at a time) bounds how late an occurrence's job is; the occurrences it sends are
    // picked up within a second (src/schedules/timing.ts).
    cronMonitorIntervalSeconds: config.scheduleCheckIntervalSeconds,
    cronWorkerIntervalSeconds: 1,
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
 * Deliveries and then job attempts were pg-boss queues before they moved to the messages table (migration
 * 0004) and the jobs table (0005), which made their pending work due again: the old queues' entries are of no
 * use any more.
 */
export async function dropRetiredQueues(boss: PgBoss): Promise<void> {
  for (const name of ['hookrelay-deliveries', 'hookrelay-jobs']) {
    if (await boss.getQueue(name)) await boss.deleteQueue(name);
  }
}
