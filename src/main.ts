// Starts what HOOKRELAY_ROLE asks for, in dependency order, and stops it in reverse. Nothing runs on import.
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/config.ts';
import { type CloseStep, openContext } from './context.ts';
import { startDispatcher } from './delivery/dispatcher.ts';
import { startDrains } from './delivery/drain.ts';
import { buildApp } from './http/app.ts';
import { jobTypesOf } from './jobs/job-types.ts';
import { scheduleLapsedSweep } from './jobs/lapsed-sweep.ts';
import { startJobRunner } from './jobs/runner.ts';
import { loadTasks } from './jobs/tasks.ts';
import type { Logger } from './log.ts';
import { scheduleRetention } from './retention.ts';
import { startOccurrences } from './schedules/occurrence.ts';
import { type Deadline, deadlineIn, STOPPED_BY } from './shutdown.ts';
import { openDatabase } from './store/database.ts';
import { ensureOperatorKey } from './tenants/bootstrap.ts';

export interface Service {
  /** Where the HTTP server listens. */
  url: string;
  /** Drains HTTP requests and workers, then closes pg-boss, the pool and an embedded database. */
  stop(deadline: Deadline): Promise<void>;
}

export async function startService(config: Config, log: Logger): Promise<Service> {
  // Before anything is opened: a task module that cannot be loaded stops the start with nothing to undo.
  const jobTypes = jobTypesOf(config.tasksDir ? await loadTasks(config.tasksDir, log) : []);
  const database = await openDatabase(config, log);
  const stack: CloseStep[] = [() => database.stop()];
  const stop = async (deadline: Deadline) => {
    for (const step of stack.reverse()) await step(deadline);
  };
  try {
    const ctx = await openContext(config, log, database.url, jobTypes, (step) => stack.push(step));
    await ensureOperatorKey(config, ctx.pool, log);
    if (config.role !== 'api') {
      const dispatcher = startDispatcher(ctx);
      stack.push((deadline) => dispatcher.stop(deadline.by(STOPPED_BY.deliveries)));
      // Stopped before the dispatcher, so the jobs that end while it drains can still hand their messages over.
      const runner = startJobRunner(ctx, dispatcher);
      stack.push((deadline) => runner.stop(deadline.by(STOPPED_BY.jobs)));
      await scheduleRetention(ctx);
      await startDrains(ctx);
      await scheduleLapsedSweep(ctx);
      await startOccurrences(ctx);
    }
    const app: FastifyInstance = await buildApp(ctx);
    stack.push(() => app.close());
    const url = await app.listen({ host: config.host, port: config.port });
    log.info({ url, role: config.role }, 'hookrelay ready');
    return { url, stop };
  } catch (error) {
    await stop(deadlineIn(config.shutdownTimeoutMs)).catch((stopError: unknown) =>
      log.error({ err: stopError }, 'cleanup after failed start'),
    );
    throw error;
  }
}
