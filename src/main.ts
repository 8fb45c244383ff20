// Starts what HOOKRELAY_ROLE asks for, in dependency order, and stops it in reverse. Nothing runs on import.
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/config.ts';
import type { AppContext } from './context.ts';
import { startDispatcher } from './delivery/dispatcher.ts';
import { buildApp } from './http/app.ts';
import { startJobEvents } from './jobs/events.ts';
import { startJobRunner } from './jobs/runner.ts';
import type { Logger } from './log.ts';
import { createMetrics } from './metrics.ts';
import { createOutbound } from './outbound/client.ts';
import { createBoss } from './queue/boss.ts';
import { createDeliveryQueue } from './queue/delivery-queue.ts';
import { createJobQueue } from './queue/job-queue.ts';
import { scheduleRetention } from './retention.ts';
import { openDatabase } from './store/database.ts';
import { loadMigrations, migrate } from './store/migrate.ts';
import { createPool } from './store/pool.ts';
import { ensureOperatorKey } from './tenants/bootstrap.ts';

export interface Service {
  /** Where the HTTP server listens. */
  url: string;
  /** Drains HTTP requests and workers, then closes pg-boss, the pool and an embedded database. */
  stop(): Promise<void>;
}

export async function startService(config: Config, log: Logger): Promise<Service> {
  const database = await openDatabase(config, log);
  const stack: Array<() => Promise<unknown>> = [() => database.stop()];
  const stop = async () => {
    for (const step of stack.reverse()) await step();
  };
  try {
    const pool = createPool(database.url, config.databasePoolSize, log, `hookrelay-${config.role}`);
    stack.push(() => pool.end());
    const migrations = await loadMigrations();
    await migrate(pool, log, migrations);
    await ensureOperatorKey(config, pool, log);

    const events = await startJobEvents(database.url, log);
    stack.push(() => events.close());

    const boss = createBoss(database.url, config, log);
    await boss.start();
    // Workers get most of the shutdown deadline; the rest is for HTTP draining and closing connections.
    stack.push(() => boss.stop({ graceful: true, timeout: Math.floor(config.shutdownTimeoutMs * 0.6) }));
    await createJobQueue(boss, config);
    await createDeliveryQueue(boss, config);

    // Each call bounds itself with its own signal (the `http` job's timeoutSeconds); the agent's limit is a
    // backstop above the longest of those.
    const outbound = createOutbound(config.outboundAllowCidrs, { connectMs: 10_000, responseMs: 330_000 });
    stack.push(() => outbound.close());
    const deliveryOutbound = createOutbound(config.outboundAllowCidrs, {
      connectMs: config.deliveryTimeoutMs,
      responseMs: config.deliveryTimeoutMs,
    });
    stack.push(() => deliveryOutbound.close());

    const metrics = createMetrics(pool);
    const ctx: AppContext = {
      config,
      log,
      pool,
      boss,
      migrations,
      events,
      outbound,
      deliveryOutbound,
      metrics,
    };
    if (config.role !== 'api') {
      await startJobRunner(ctx);
      await startDispatcher(ctx);
      await scheduleRetention(ctx);
    }
    const app: FastifyInstance = await buildApp(ctx);
    stack.push(() => app.close());
    const url = await app.listen({ host: config.host, port: config.port });
    log.info({ url, role: config.role }, 'hookrelay ready');
    return { url, stop };
  } catch (error) {
    await stop().catch((stopError: unknown) => log.error({ err: stopError }, 'cleanup after failed start'));
    throw error;
  }
}
