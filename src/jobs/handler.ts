// The contract a job type implements: one module per type, registered by name.
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

/** Thrown by a handler when another attempt cannot succeed (a 4xx from an upstream): the job fails now. */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
}

/** Thrown by a handler that knows when to try again (an upstream's Retry-After). */
export class RetryLaterError extends Error {
  override name = 'RetryLaterError';
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

/** Declares a handler with its input type inferred from the schema. */
export function defineHandler<S extends z.ZodType>(
  handler: JobHandler<z.infer<S>> & { input: S },
): JobHandler {
  return handler as unknown as JobHandler;
}
