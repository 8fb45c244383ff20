// Turns an attempt's result into one of a closed set of outcomes; the dispatcher acts on the outcome.
import type { SendResult } from './send.ts';

/** Longest wait a receiver's Retry-After may ask for. */
export const RETRY_AFTER_CAP_MS = 3_600_000;

export type Outcome =
  | { kind: 'delivered' }
  | { kind: 'gone' }
  | { kind: 'retry'; retryAfterMs?: number; error: string };

export function classify(result: SendResult, now: number = Date.now()): Outcome {
  const { status } = result;
  if (status === null) return { kind: 'retry', error: result.error ?? 'no response' };
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (status === 410) return { kind: 'gone' };
  const error =
    status >= 300 && status < 400 ? `redirect (${status}) not followed` : `receiver answered ${status}`;
  if ((status === 429 || status === 503) && result.retryAfter !== undefined) {
    const after = retryAfterMs(result.retryAfter, now);
    if (after !== undefined) return { kind: 'retry', retryAfterMs: after, error };
  }
  return { kind: 'retry', error };
}

/** Retry-After in seconds or as an HTTP date, capped. */
export function retryAfterMs(value: string, now: number): number | undefined {
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - now;
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), RETRY_AFTER_CAP_MS) : undefined;
}
