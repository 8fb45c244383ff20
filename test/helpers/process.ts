// The real `hookrelay` command as a child process of one test (harness/service.ts), stopped at its teardown.
import type { Test } from 'tap';
import { type ServiceProcess, spawnHookrelay } from '../../harness/service.ts';

export type { LogLine, ServiceProcess } from '../../harness/service.ts';

/**
 * Starts `hookrelay <args>` with only the given environment (plus PATH): no DATABASE_URL unless the test passes
 * one. A process still running at teardown gets SIGTERM, then SIGKILL, so an embedded Postgres it owns is
 * stopped properly.
 */
export function runHookrelay(
  t: Test,
  env: Record<string, string>,
  args: string[] = ['serve'],
): ServiceProcess {
  const service = spawnHookrelay(env, args);
  t.teardown(() => service.stop(15_000));
  return service;
}
