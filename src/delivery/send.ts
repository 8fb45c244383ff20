// One HTTP attempt at a webhook: POST through the guarded agent, time-limited, response read capped at 4 KiB
// and made storable whatever its bytes (read-capped.ts).
import { request } from 'undici';
import type { Outbound } from '../outbound/client.ts';
import { readCapped } from '../outbound/read-capped.ts';
import { deadline } from '../timeout.ts';

export const RESPONSE_BODY_KEPT = 4 * 1024;

export interface SendResult {
  durationMs: number;
  /** null when no response arrived (network error, timeout, refused address). */
  status: number | null;
  body: string | null;
  /** The body was longer than the cap: `body` holds its start. */
  truncated: boolean;
  retryAfter: string | undefined;
  error: string | null;
}

export async function send(
  outbound: Outbound,
  call: {
    url: string;
    headers: Record<string, string>;
    body: string;
    timeoutMs: number;
    signal?: AbortSignal;
    /** The most of the response body kept (a push worker's result may be larger than a receiver's answer). */
    maxBodyBytes?: number;
  },
  now: () => number = Date.now,
): Promise<SendResult> {
  const started = now();
  const limit = deadline(call.timeoutMs);
  try {
    const response = await request(call.url, {
      method: 'POST',
      headers: call.headers,
      body: call.body,
      dispatcher: outbound.agent,
      signal: call.signal ? AbortSignal.any([limit.signal, call.signal]) : limit.signal,
    });
    const { text, truncated } = await readCapped(
      response.body,
      call.maxBodyBytes ?? RESPONSE_BODY_KEPT,
      response.headers['content-encoding'],
    );
    const retryAfter = response.headers['retry-after'];
    return {
      durationMs: now() - started,
      status: response.statusCode,
      body: text,
      truncated,
      retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
      error: null,
    };
  } catch (error) {
    const timedOut =
      (error as Error).name === 'TimeoutError' ||
      (error as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT';
    return {
      durationMs: now() - started,
      status: null,
      body: null,
      truncated: false,
      retryAfter: undefined,
      error: timedOut ? `no response within ${call.timeoutMs} ms` : (error as Error).message.slice(0, 500),
    };
  } finally {
    limit.clear();
  }
}
