// `http`: calls a (slow) upstream on the tenant's behalf; the result is its response. Network errors,
// timeouts, 408, 429 and 5xx are retried; other 4xx fail at once.
import { request } from 'undici';
import { z } from 'zod';
import { OutboundRefused } from '../../outbound/client.ts';
import { urlRefusal } from '../../outbound/guard.ts';
import { CLIENT_SET_HEADERS, headerName, headerValue } from '../../outbound/header-fields.ts';
import { readCapped } from '../../outbound/read-capped.ts';
import { parseRetryAfter } from '../../outbound/retry-after.ts';
import { deadline } from '../../timeout.ts';
import { VERSION } from '../../version.ts';
import { defineHandler, PermanentJobError, RetryLaterError } from '../handler.ts';

const MAX_RESPONSE_BYTES = 1024 * 1024;
const RESERVED_HEADERS = new Set(CLIENT_SET_HEADERS);

const input = z.object({
  url: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }).max(2048),
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']).default('GET'),
  headers: z
    .record(headerName(256), headerValue(8192))
    .refine((headers) => Object.keys(headers).length <= 50, 'at most 50 headers')
    .refine(
      (headers) => Object.keys(headers).every((name) => !RESERVED_HEADERS.has(name.toLowerCase())),
      `these headers are set by hookrelay: ${[...RESERVED_HEADERS].join(', ')}`,
    )
    .default({}),
  body: z.unknown().optional(),
  timeoutSeconds: z.number().int().min(1).max(300).default(30),
});

export const http = defineHandler({
  type: 'http',
  input,
  defaultTimeoutSeconds: 330,
  outboundUrls: (call) => [call.url],
  run: async (call, ctx) => {
    const url = new URL(call.url);
    const refused = urlRefusal(url, ctx.outbound.policy);
    if (refused) throw new PermanentJobError(`the URL is not allowed: ${refused}`);
    const isJson = call.body !== undefined && typeof call.body !== 'string';
    const headers: Record<string, string> = {
      'user-agent': `hookrelay/${VERSION}`,
      ...(isJson && { 'content-type': 'application/json' }),
      ...call.headers,
    };
    const limit = deadline(call.timeoutSeconds * 1000);
    let response: Awaited<ReturnType<typeof request>>;
    let read: Awaited<ReturnType<typeof readCapped>>;
    try {
      try {
        response = await request(url, {
          method: call.method,
          headers,
          body:
            call.body === undefined ? undefined : isJson ? JSON.stringify(call.body) : (call.body as string),
          dispatcher: ctx.outbound.agent,
          signal: AbortSignal.any([ctx.signal, limit.signal]),
        });
      } catch (error) {
        if (error instanceof OutboundRefused || (error as Error).cause instanceof OutboundRefused) {
          throw new PermanentJobError(`the URL is not allowed: ${(error as Error).message}`);
        }
        if ((error as { code?: string }).code === 'UND_ERR_INVALID_ARG')
          throw new PermanentJobError((error as Error).message);
        throw new Error(`request to ${url.origin} failed: ${(error as Error).message}`);
      }
      read = await readCapped(response.body, MAX_RESPONSE_BYTES, response.headers['content-encoding']);
    } finally {
      limit.clear();
    }
    const { text, truncated, encoded } = read;
    const status = response.statusCode;
    if (status === 408 || status === 429 || status >= 500) {
      const message = `upstream answered ${status}`;
      const after =
        status === 429 || status === 503 ? parseRetryAfter(response.headers['retry-after']) : undefined;
      throw after === undefined ? new Error(message) : new RetryLaterError(message, after);
    }
    if (status >= 400) throw new PermanentJobError(`upstream answered ${status}`);
    const contentType = String(response.headers['content-type'] ?? '');
    let body: unknown = text;
    if (!truncated && !encoded && /[/+]json\b/.test(contentType)) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    return { status, headers: response.headers, body, ...(truncated && { truncated: true }) };
  },
});
