// Builds a real AppContext on a fresh database, for tests that assemble their own app around shared plugins.
import type { FastifyInstance } from 'fastify';
import type { Test } from 'tap';
import { type Config, loadConfig } from '../../src/config/config.ts';
import type { AppContext } from '../../src/context.ts';
import { startJobEvents } from '../../src/jobs/events.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createOutbound } from '../../src/outbound/client.ts';
import { createBoss } from '../../src/queue/boss.ts';
import { createDeliveryQueue } from '../../src/queue/delivery-queue.ts';
import { createJobQueue } from '../../src/queue/job-queue.ts';
import { loadMigrations, migrate } from '../../src/store/migrate.ts';
import { createPool } from '../../src/store/pool.ts';
import { freshDatabase } from './database.ts';

export async function testContext(t: Test, env: Record<string, string> = {}): Promise<AppContext> {
  const url = await freshDatabase(t);
  const config: Config = loadConfig({ DATABASE_URL: url, LOG_LEVEL: 'silent', PORT: '0', ...env });
  const log = createLogger(config.logLevel);
  const pool = createPool(url, 4, log, 'hookrelay-test');
  const migrations = await loadMigrations();
  await migrate(pool, log, migrations);
  const events = await startJobEvents(url, log);
  const boss = createBoss(url, config, log);
  await boss.start();
  await createJobQueue(boss, config);
  await createDeliveryQueue(boss, config);
  t.teardown(async () => {
    await boss.stop({ graceful: false });
    await events.close();
    await pool.end();
  });
  const outbound = createOutbound(config.outboundAllowCidrs, {
    connectMs: 5_000,
    responseMs: config.deliveryTimeoutMs,
  });
  const deliveryOutbound = createOutbound(config.outboundAllowCidrs, {
    connectMs: config.deliveryTimeoutMs,
    responseMs: config.deliveryTimeoutMs,
  });
  t.teardown(() => Promise.all([outbound.close(), deliveryOutbound.close()]));
  return {
    config,
    log,
    pool,
    boss,
    migrations,
    events,
    outbound,
    deliveryOutbound,
    metrics: createMetrics(pool),
  };
}

/** Listens on a free loopback port and returns the base URL; closed at teardown. */
export async function listen(t: Test, app: FastifyInstance): Promise<string> {
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  return url;
}
