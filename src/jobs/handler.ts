// The contract a job type implements: one module per type, registered by name.
import type { fetch as undiciFetch } from 'undici';
import type { z } from 'zod';
import type { Logger } from '../log.ts';
import type { Outbound } from '../outbound/client.ts';

export interface JobContext {
  /** Reports progress (0–100) with an optional message; clients see it through polls, SSE and webhooks. */
  progress(percent: number, message?: string): Promise<void>;
  /** Aborted when the job is cancelled or its timeout passes: pass it to every awaited call. */
  signal: AbortSignal;
  log: Logger;
  /** 1 for the first attempt. */
  attempt: number;
  /** The guarded HTTP client (undici agent and address policy) for calls out of hookrelay. */
  outbound: Outbound;
  /**
   * `fetch` through that client: private and metadata addresses refused unless allow-listed, and the call
   * aborted with the attempt (cancelled, timed out, lease lost) besides any signal of its own.
   */
  fetch: typeof undiciFetch;
}

export interface JobHandler<Input = unknown> {
  type: string;
  input: z.ZodType<Input>;
  defaultTimeoutSeconds: number;
  /** The URLs a job will call, judged by the outbound policy at submission: a refused one is a 422 at once
   * instead of a job that can only fail. (The call itself is judged again when it is made.) */
  outboundUrls?(input: Input): string[];
  run(input: Input, ctx: JobContext): Promise<unknown>;
}

/**
 * Marks of the two errors that steer retries, registered globally: a task module may import them from another
 * copy of this code (the package's built files while the repository runs its sources), so `instanceof` could
 * not tell them.
 */
const PERMANENT = Symbol.for('hookrelay.PermanentJobError');
const RETRY_LATER = Symbol.for('hookrelay.RetryLaterError');

/** Thrown by a handler when another attempt cannot succeed (a 4xx from an upstream): the job fails now. */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
  readonly [PERMANENT] = true;
}

/** Thrown by a handler that knows when to try again (an upstream's Retry-After). */
export class RetryLaterError extends Error {
  override name = 'RetryLaterError';
  readonly [RETRY_LATER] = true;
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

export const isPermanent = (error: unknown): error is PermanentJobError =>
  typeof error === 'object' && error !== null && PERMANENT in error;

export const isRetryLater = (error: unknown): error is RetryLaterError =>
  typeof error === 'object' && error !== null && RETRY_LATER in error;

/** Declares a handler with its input type inferred from the schema. */
export function defineHandler<S extends z.ZodType>(
  handler: JobHandler<z.infer<S>> & { input: S },
): JobHandler {
  return handler as unknown as JobHandler;
}
