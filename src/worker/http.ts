// The worker's one way to call hookrelay: a JSON POST through undici, time-limited and read-capped, its answer
// sorted into a closed set of replies that the claim loop and the task runner each act on in one place.
import { Agent, request } from 'undici';
import { readCapped } from '../outbound/read-capped.ts';
import { parseRetryAfter } from '../outbound/retry-after.ts';
import { deadline } from '../timeout.ts';
import { VERSION } from '../version.ts';

export type Reply<T> =
  /** 2xx. `serverNow`: the answer's Date header (1 s resolution), to read the server's times without skew. */
  | { kind: 'ok'; body: T; serverNow: number | undefined }
  /** 404 or 409: for a task token, its attempt is over (the problem's title says how). */
  | { kind: 'ended'; status: number; title: string }
  /** No answer, 408, 429 or 5xx: the same call may work later, not before `retryAfterMs` if given. */
  | { kind: 'transient'; reason: string; retryAfterMs?: number }
  /** Any other answer: the same call will be refused again. */
  | { kind: 'refused'; status: number; title: string; detail?: string };

export interface Http {
  /**
   * POSTs `json` (already serialised) to `path` under the base URL. `auth`: send the key (the worker routes);
   * task routes take none, their token is the credential. `abandon` gives up the call while no answer has
   * begun, rejecting with its reason; an answer under way is read to the end, since a claim answer holds jobs
   * that are already this worker's.
   */
  post<T>(path: string, json: string, options: PostOptions): Promise<Reply<T>>;
  close(): Promise<void>;
}

/**
 * The largest answer read. Claim answers are the big ones: 100 jobs whose input fills the default 1 MiB body
 * limit fit. It guards against a runaway, not a tuning knob.
 */
const MAX_ANSWER_BYTES = 128 * 1024 * 1024;

export interface PostOptions {
  auth: boolean;
  timeoutMs: number;
  abandon?: AbortSignal;
}

export function createHttp(url: string, key: string): Http {
  const base = new URL(url.endsWith('/') ? url : `${url}/`);
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new TypeError(`url must be an http or https URL, not ${url}`);
  // Connections are kept between calls: a worker talks to one service all its life. The per-call deadline below
  // is what limits each call; undici's own timeouts are set past the longest one (a 60 s long poll).
  const agent = new Agent({ headersTimeout: 120_000, bodyTimeout: 120_000 });

  async function post<T>(path: string, json: string, options: PostOptions): Promise<Reply<T>> {
    const limit = deadline(options.timeoutMs);
    const abandoned = new AbortController();
    let answered = false;
    const abandon = () => {
      if (!answered) abandoned.abort(options.abandon?.reason);
    };
    options.abandon?.addEventListener('abort', abandon, { once: true });
    const signal = AbortSignal.any([limit.signal, abandoned.signal]);
    try {
      if (options.abandon?.aborted) throw options.abandon.reason;
      // Relative to the base, so that a path prefix in it (a proxy's) is kept.
      const response = await request(new URL(path.replace(/^\/+/, ''), base), {
        method: 'POST',
        dispatcher: agent,
        signal,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, application/problem+json',
          'user-agent': `hookrelay-worker/${VERSION}`,
          ...(options.auth && { authorization: `Bearer ${key}` }),
        },
        body: json,
      });
      answered = true;
      const { text, truncated } = await readCapped(
        response.body,
        MAX_ANSWER_BYTES,
        response.headers['content-encoding'],
      );
      if (truncated) return { kind: 'transient', reason: `an answer over ${MAX_ANSWER_BYTES} bytes` };
      return classify<T>(response.statusCode, response.headers, text);
    } catch (error) {
      // Given up on purpose (a stop): not a failure to report, the caller knows what it means.
      if (abandoned.signal.aborted || options.abandon?.aborted) throw options.abandon?.reason;
      const reason = limit.signal.aborted
        ? `no answer within ${options.timeoutMs} ms`
        : (error as Error).message || String(error);
      return { kind: 'transient', reason };
    } finally {
      limit.clear();
      options.abandon?.removeEventListener('abort', abandon);
    }
  }

  return { post, close: () => agent.close() };
}

type Headers = Record<string, string | string[] | undefined>;

/** Sorts one answer into a reply. Exported for its test vectors. */
export function classify<T>(status: number, headers: Headers, text: string, now = Date.now()): Reply<T> {
  const date = Date.parse(String(headers.date ?? ''));
  if (status >= 200 && status < 300) {
    try {
      return { kind: 'ok', body: (text ? JSON.parse(text) : {}) as T, serverNow: date || undefined };
    } catch {
      // A proxy's HTML page, say: hookrelay itself answers JSON.
      return { kind: 'transient', reason: `a ${status} answer that is not JSON` };
    }
  }
  const problem = problemOf(text);
  const title = problem.title ?? `HTTP ${status}`;
  if (status === 408 || status === 429 || status >= 500)
    return {
      kind: 'transient',
      reason: `${status} ${title}`,
      retryAfterMs: parseRetryAfter(headers['retry-after'], now),
    };
  if (status === 404 || status === 409) return { kind: 'ended', status, title };
  return { kind: 'refused', status, title, ...(problem.detail && { detail: problem.detail }) };
}

/** The title and detail of a problem+json answer; nothing when the body is something else. */
function problemOf(text: string): { title?: string; detail?: string } {
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body !== 'object' || body === null) return {};
    const { title, detail } = body as { title?: unknown; detail?: unknown };
    return {
      ...(typeof title === 'string' && { title: title.slice(0, 200) }),
      ...(typeof detail === 'string' && { detail: detail.slice(0, 500) }),
    };
  } catch {
    return {};
  }
}
