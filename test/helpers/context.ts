// Builds a real AppContext on a fresh database, for tests that assemble their own app around shared plugins.
import type { FastifyInstance } from 'fastify';
import type { Test } from 'tap';
import { loadConfig } from '../../src/config/config.ts';
import { type AppContext, type CloseStep, openContext } from '../../src/context.ts';
import type { JobHandler } from '../../src/jobs/handler.ts';
import { jobTypesOf } from '../../src/jobs/job-types.ts';
import { createLogger } from '../../src/log.ts';
import { deadlineIn } from '../../src/shutdown.ts';
import { freshDatabase } from './database.ts';

/**
 * The context the service itself opens (same code), closed in reverse order at teardown. `handlers`: job types
 * beside the built-in ones, as task modules would add them.
 */
export async function testContext(
  t: Test,
  env: Record<string, string> = {},
  handlers: JobHandler[] = [],
): Promise<AppContext> {
  const url = await freshDatabase(t);
  const config = loadConfig({
    DATABASE_URL: url,
    LOG_LEVEL: 'silent',
    PORT: '0',
    SHUTDOWN_TIMEOUT: '2s',
    ...env,
  });
  const steps: CloseStep[] = [];
  t.teardown(async () => {
    const deadline = deadlineIn(2_000);
    for (const step of steps.reverse()) await step(deadline);
  });
  return openContext(config, createLogger(config.logLevel), url, jobTypesOf(handlers), (step) =>
    steps.push(step),
  );
}

/** Listens on a free loopback port and returns the base URL; closed at teardown. */
export async function listen(t: Test, app: FastifyInstance): Promise<string> {
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  return url;
}
