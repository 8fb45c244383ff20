// The job types a process can run: the built-in ones, and those of the task modules it loaded at start
// (src/jobs/tasks.ts). Built once per process and kept in its context.
import { z } from 'zod';
import type { JobHandler } from './handler.ts';
import { demoReport } from './handlers/demo-report.ts';
import { echo } from './handlers/echo.ts';
import { http } from './handlers/http.ts';

export const BUILT_IN: readonly JobHandler[] = [echo, demoReport, http];

/** A job type as GET /v1/job-types shows it. */
export interface JobTypeView {
  name: string;
  execution: 'builtin' | 'task';
  /** The input's JSON Schema (draft 2020-12), from the type's zod schema. */
  inputSchema: Record<string, unknown>;
  timeoutSeconds: number;
}

export interface JobTypes {
  find(name: string): JobHandler | undefined;
  isBuiltIn(name: string): boolean;
  names(): string[];
  list(): JobTypeView[];
}

/**
 * The JSON Schema of what a client sends (before defaults and transforms); a part JSON Schema cannot say is left
 * open. Throws for a schema that cannot be converted at all (tasks.ts turns that into a start that names the file).
 */
export function inputJsonSchema(schema: JobHandler['input']): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

/** The built-in types and `tasks` (whose names the caller has checked are new). */
export function jobTypesOf(tasks: readonly JobHandler[] = []): JobTypes {
  const handlers = new Map<string, JobHandler>([...BUILT_IN, ...tasks].map((h) => [h.type, h]));
  const builtIn = new Set(BUILT_IN.map((h) => h.type));
  // Converted once: a schema does not change while the process runs.
  const views = [...handlers.values()].map(
    (handler): JobTypeView => ({
      name: handler.type,
      execution: builtIn.has(handler.type) ? 'builtin' : 'task',
      inputSchema: inputJsonSchema(handler.input),
      timeoutSeconds: handler.defaultTimeoutSeconds,
    }),
  );
  return {
    find: (name) => handlers.get(name),
    isBuiltIn: (name) => builtIn.has(name),
    names: () => [...handlers.keys()],
    list: () => views,
  };
}
