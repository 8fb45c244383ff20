// The job types this build can run, by name.
import type { JobHandler } from './handler.ts';
import { demoReport } from './handlers/demo-report.ts';
import { echo } from './handlers/echo.ts';
import { http } from './handlers/http.ts';

const handlers = new Map<string, JobHandler>(
  [echo, demoReport, http].map((handler) => [handler.type, handler]),
);

/** Adds a job type beside the built-in ones (a test's own handler); a name already taken is refused. */
export function registerHandler(handler: JobHandler): void {
  if (handlers.has(handler.type)) throw new Error(`job type "${handler.type}" is already registered`);
  handlers.set(handler.type, handler);
}

export function findHandler(type: string): JobHandler | undefined {
  return handlers.get(type);
}

export function jobTypes(): string[] {
  return [...handlers.keys()];
}
