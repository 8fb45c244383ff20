// The few long-lived things every part of a process shares, built once at start and passed explicitly.
import type { PgBoss } from 'pg-boss';
import type { Config } from './config/config.ts';
import { resealSecrets } from './crypto/reseal.ts';
import { createSecretBox, type SecretBox } from './crypto/secret-box.ts';
import { createDrainQueues } from './delivery/drain.ts';
import { createIntakeState, type IntakeState } from './jobs/intake-state.ts';
import type { JobTypes } from './jobs/job-types.ts';
import { createTenantTypes, type TenantTypes } from './jobs/tenant-types.ts';
import type { Logger } from './log.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { createOutbound, type Outbound } from './outbound/client.ts';
import { createBoss, dropRetiredQueues } from './queue/boss.ts';
import { type Notifications, startNotifications } from './queue/notifications.ts';
import { createScheduleQueue } from './schedules/timing.ts';
import { type Deadline, STOPPED_BY } from './shutdown.ts';
import { loadMigrations, type Migration, migrate } from './store/migrate.ts';
import { createPool, type Pool } from './store/pool.ts';
import { createPrincipalCache, type PrincipalCache } from './tenants/principal-cache.ts';

export interface AppContext {
  config: Config;
  log: Logger;
  pool: Pool;
  boss: PgBoss;
  /** The migrations this build knows; readiness requires every one of them applied. */
  migrations: Migration[];
  /** Job changes and cancel requests from every process, through Postgres LISTEN/NOTIFY. */
  notifications: Notifications;
  /** The guarded HTTP client for job handlers (long timeouts: each call sets its own). */
  outbound: Outbound;
  /** The guarded HTTP client for webhook deliveries: DELIVERY_TIMEOUT per attempt, keep-alive per origin. */
  deliveryOutbound: Outbound;
  metrics: Metrics;
  /** Seals signing secrets at rest under HOOKRELAY_ENCRYPTION_KEY, and opens them. */
  secrets: SecretBox;
  /** API key → principal, remembered briefly. */
  principals: PrincipalCache;
  /** Job intake's writer and caches. */
  intake: IntakeState;
  /** The job types this process runs: built-in, and from the task modules loaded at start. */
  jobTypes: JobTypes;
  /** Tenants' own job types (remote and push), remembered briefly. */
  tenantTypes: TenantTypes;
}

/**
 * The parts of the context a function uses. Each function names its own, so its signature says what it
 * touches, and a test or a new caller can hand it just those.
 */
export type Needs<K extends keyof AppContext> = Pick<AppContext, K>;

/** How to close something that was opened; the caller runs these in reverse order. */
export type CloseStep = (deadline: Deadline) => Promise<unknown>;

/**
 * Opens what a process shares on the database at `url`, applying migrations on the way. Each part registers
 * its close step through `onClose` as soon as it is open, so a failure half-way can close what was opened.
 */
export async function openContext(
  config: Config,
  log: Logger,
  url: string,
  jobTypes: JobTypes,
  onClose: (step: CloseStep) => void,
): Promise<AppContext> {
  const pool = createPool(url, config.databasePoolSize, log, `hookrelay-${config.role}`);
  onClose(() => pool.end());
  const migrations = await loadMigrations();
  // Migrations wait for each other's lock and may build indexes on large tables: no statement timeout there.
  const migrator = createPool(url, 1, log, `hookrelay-${config.role}-migrate`, { queryTimeoutMs: 0 });
  try {
    await migrate(migrator, log, migrations);
  } finally {
    await migrator.end();
  }
  const secrets = createSecretBox(config.encryptionKeys);
  await resealSecrets(pool, secrets, log);

  const notifications = await startNotifications(url, log);
  onClose(() => notifications.close());

  const boss = createBoss(url, config, log);
  await boss.start();
  // Its share of the shutdown deadline comes after the job runner's and the dispatcher's (src/shutdown.ts). A
  // timeout of 0 would be taken as unset: at least a millisecond.
  onClose((deadline) =>
    boss.stop({
      graceful: true,
      timeout: Math.max(1, Math.floor(deadline.by(STOPPED_BY.schedules) - Date.now())),
    }),
  );
  await dropRetiredQueues(boss);
  await createDrainQueues(boss);
  await createScheduleQueue(boss);

  // Each job call bounds itself with its own signal (the `http` job's timeoutSeconds); the agent's limit is a
  // backstop above the longest of those.
  const outbound = createOutbound(config.outboundAllowCidrs, { connectMs: 10_000, responseMs: 330_000 });
  onClose(() => outbound.close());
  const deliveryOutbound = createOutbound(config.outboundAllowCidrs, {
    connectMs: config.deliveryTimeoutMs,
    responseMs: config.deliveryTimeoutMs,
  });
  onClose(() => deliveryOutbound.close());

  return {
    config,
    log,
    pool,
    boss,
    migrations,
    notifications,
    outbound,
    deliveryOutbound,
    metrics: createMetrics(pool),
    secrets,
    principals: createPrincipalCache(pool, notifications),
    intake: createIntakeState(pool, config),
    jobTypes,
    tenantTypes: createTenantTypes(pool),
  };
}
