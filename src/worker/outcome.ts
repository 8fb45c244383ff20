// What a task's end is reported as: its result, or a failure whose kind decides the retry, the same errors
// steering it as for task modules (PermanentJobError, RetryLaterError).
import { isPermanent, isRetryLater } from '../jobs/handler.ts';

/** The report that ends an attempt: the route under the task's token and its JSON body. */
export type Report = { route: 'complete' | 'fail'; json: string };

/** As long as hookrelay takes an error's message (`fail` refuses longer ones) and its code. */
const MAX_MESSAGE = 1_000;
const MAX_CODE = 100;

/**
 * The signal's reasons the worker itself gives (the deadline, a stop running out): reported with their own code
 * so the job's error says why the handler's work was cut.
 */
export class TaskAbortedError extends Error {
  override name = 'TaskAbortedError';
  readonly code: 'timeout' | 'worker_stopping';

  constructor(message: string, code: 'timeout' | 'worker_stopping') {
    super(message);
    this.code = code;
  }
}

/** A handler's return value as `complete`, or as a retried failure when it is not JSON (a cycle, a BigInt). */
export function succeeded(result: unknown): Report {
  try {
    return { route: 'complete', json: JSON.stringify({ result: result === undefined ? null : result }) };
  } catch (error) {
    return failed(new Error(`the result is not JSON: ${(error as Error).message}`));
  }
}

/** A thrown error as `fail`: permanent ones end the job, RetryLaterError names its delay, others retry. */
export function failed(error: unknown): Report {
  const message =
    cut(error instanceof Error ? error.message || error.name : String(error), MAX_MESSAGE) ||
    'the handler failed without a message';
  const code = (error as { code?: unknown } | null)?.code;
  const body = {
    error: { message, ...(typeof code === 'string' && code && { code: cut(code, MAX_CODE) }) },
    retry: !isPermanent(error),
    ...(isRetryLater(error) && { retryAfterSeconds: retryAfterSeconds(error.retryAfterMs) }),
  };
  return { route: 'fail', json: JSON.stringify(body) };
}

/** Whole milliseconds as seconds, rounded up: never sooner than the handler asked for. */
const retryAfterSeconds = (ms: number) => (Number.isFinite(ms) ? Math.max(0, Math.ceil(ms)) / 1000 : 0);

/** The first `max` UTF-16 units, as well-formed text: a cut through a surrogate pair leaves no half of it. */
export const cut = (text: string, max: number) => text.slice(0, max).toWellFormed();
