// A team's own job type, as a task module declares it (`export default defineTask({...})`): the same contract as
// the built-in handlers, in the shape the package publishes.
import type { z } from 'zod';
import type { JobContext, JobHandler } from './handler.ts';

/**
 * The mark of a task, registered globally: the module that loads tasks and the one a task file imported
 * `defineTask` from may be two copies of this code (the package's built files, the repository's sources).
 */
const TASK = Symbol.for('hookrelay.task');

/** The longest default timeout a task may declare: six hours, the most a job may ask for. */
const MAX_TIMEOUT_SECONDS = 21_600;
/** Used when a task declares none: an hour, as for remote job types. */
const DEFAULT_TIMEOUT_SECONDS = 3_600;

export interface TaskDefinition<S extends z.ZodType> {
  /** The job type's name: `^[a-z][a-z0-9._-]{0,63}$`, not a built-in type's. */
  type: string;
  /** The input's schema: `POST /v1/jobs` refuses input that does not match (400 with each field). */
  input: S;
  /** A job's time limit when it gives none (1–21600; default 3600). */
  timeoutSeconds?: number;
  /** Runs one attempt: return the result, or throw (`PermanentJobError` fails the job, others are retried). */
  run(input: z.output<S>, ctx: JobContext): Promise<unknown>;
}

export interface Task {
  readonly [TASK]: true;
  readonly handler: JobHandler;
}

export function defineTask<S extends z.ZodType>(definition: TaskDefinition<S>): Task {
  return Object.freeze({
    [TASK]: true as const,
    handler: {
      type: definition.type,
      input: definition.input,
      defaultTimeoutSeconds: definition.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
      run: definition.run,
    } as JobHandler,
  });
}

export function isTask(value: unknown): value is Task {
  return typeof value === 'object' && value !== null && TASK in value;
}

/** Why a task's definition cannot be used, or undefined when it can. */
export function taskProblem(handler: JobHandler): string | undefined {
  if (typeof handler.type !== 'string' || !/^[a-z][a-z0-9._-]{0,63}$/.test(handler.type))
    return `its type ${JSON.stringify(handler.type)} is not a name like "reports.build" (^[a-z][a-z0-9._-]{0,63}$)`;
  // Zod 4's schemas carry `_zod` (zod 3's, also with a safeParse, cannot be converted to JSON Schema).
  if (typeof handler.input !== 'object' || handler.input === null || !('_zod' in handler.input))
    return "its input is not a zod 4 schema (import { z } from 'hookrelay', or from zod 4)";
  if (typeof handler.run !== 'function') return 'it has no run function';
  const timeout = handler.defaultTimeoutSeconds;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > MAX_TIMEOUT_SECONDS)
    return `its timeoutSeconds must be a whole number from 1 to ${MAX_TIMEOUT_SECONDS}`;
  return undefined;
}
