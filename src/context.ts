// The few long-lived things every part of a process shares, built once at start and passed explicitly.
import type { PgBoss } from 'pg-boss';
import type { Config } from './config/config.ts';
import type { JobEvents } from './jobs/events.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import type { Outbound } from './outbound/client.ts';
import type { Migration } from './store/migrate.ts';
import type { Pool } from './store/pool.ts';

export interface AppContext {
  config: Config;
  log: Logger;
  pool: Pool;
  boss: PgBoss;
  /** The migrations this build knows; readiness requires every one of them applied. */
  migrations: Migration[];
  /** Job changes and cancel requests from every process, through Postgres LISTEN/NOTIFY. */
  events: JobEvents;
  /** The guarded HTTP client for job handlers (long timeouts: each call sets its own). */
  outbound: Outbound;
  /** The guarded HTTP client for webhook deliveries: DELIVERY_TIMEOUT per attempt, keep-alive per origin. */
  deliveryOutbound: Outbound;
  metrics: Metrics;
}
