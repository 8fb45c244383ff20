// Turns an attempt's result into one of a closed set of outcomes; the dispatcher acts on the outcome.
import { parseRetryAfter } from '../outbound/retry-after.ts';
import type { SendResult } from './send.ts';

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
    const after = parseRetryAfter(result.retryAfter, now);
    if (after !== undefined) return { kind: 'retry', retryAfterMs: after, error };
  }
  return { kind: 'retry', error };
}
