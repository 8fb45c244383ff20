// The CLI's HTTP client for a running hookrelay: the public API only, with the key as a bearer token.
import { request } from 'undici';
import { z } from 'zod';

/** A problem+json answer (RFC 9457), as the service sends every error. */
export interface Problem {
  title: string;
  status: number;
  detail?: string;
  errors?: Array<{ path: string; message: string }>;
}

export class ApiError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(`${problem.title}${problem.detail ? `: ${problem.detail}` : ''}`);
    this.problem = problem;
  }
}

/** The service could not be reached at all (refused, reset, DNS, timeout). */
export class UnreachableError extends Error {}

const connection = z.object({
  url: z.url({ protocol: /^https?$/, error: '--url (HOOKRELAY_URL) must be an http or https URL' }),
  key: z.string().min(1).optional(),
});

export type Query = Record<string, string | number | boolean | undefined>;

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ApiClient {
  base: string;
  call<T>(method: Method, path: string, options?: CallOptions): Promise<T>;
  /** As `call`, with the answer's status too: for the commands whose message depends on it (201 or 200). */
  exchange<T>(method: Method, path: string, options?: CallOptions): Promise<{ status: number; body: T }>;
  /** Opens a streaming GET (Server-Sent Events): the body is returned unread, without a body timeout. */
  stream(path: string): Promise<AsyncIterable<Buffer>>;
}

export interface CallOptions {
  body?: unknown;
  query?: Query;
  headers?: Record<string, string>;
}

const REQUEST_TIMEOUT_MS = 90_000;

export function apiClient(options: { url: string; key?: string }): ApiClient {
  const parsed = connection.safeParse(options);
  if (!parsed.success) throw new UnreachableError(parsed.error.issues.map((i) => i.message).join('; '));
  const base = parsed.data.url.replace(/\/+$/, '');
  const auth: Record<string, string> = parsed.data.key ? { authorization: `Bearer ${parsed.data.key}` } : {};

  function address(path: string, query?: Query): string {
    const url = new URL(base + path);
    for (const [name, value] of Object.entries(query ?? {}))
      if (value !== undefined) url.searchParams.set(name, String(value));
    return url.toString();
  }

  async function send(method: string, url: string, options: CallOptions, bodyTimeout: number) {
    try {
      return await request(url, {
        method: method as 'GET',
        headers: {
          ...auth,
          accept: 'application/json, application/problem+json, text/event-stream',
          ...(options.body !== undefined && { 'content-type': 'application/json' }),
          ...options.headers,
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout,
      });
    } catch (error) {
      throw new UnreachableError(`cannot reach ${base}: ${(error as Error).message}`);
    }
  }

  async function problemOf(response: Awaited<ReturnType<typeof request>>): Promise<never> {
    const text = await response.body.text();
    let problem: Problem = { title: `HTTP ${response.statusCode}`, status: response.statusCode };
    try {
      problem = { ...problem, ...(JSON.parse(text) as Partial<Problem>) };
    } catch {
      if (text) problem.detail = text.slice(0, 200);
    }
    throw new ApiError(problem);
  }

  async function exchange<T>(method: Method, path: string, options: CallOptions = {}) {
    const response = await send(method, address(path, options.query), options, REQUEST_TIMEOUT_MS);
    if (response.statusCode >= 400) return problemOf(response);
    const text = await response.body.text();
    return { status: response.statusCode, body: (text ? JSON.parse(text) : undefined) as T };
  }

  return {
    base,
    exchange,
    async call<T>(method: Method, path: string, options: CallOptions = {}): Promise<T> {
      return (await exchange<T>(method, path, options)).body;
    },
    async stream(path: string) {
      const response = await send('GET', address(path), {}, 0);
      if (response.statusCode >= 400) return problemOf(response);
      return response.body;
    },
  };
}

/** Follows `nextCursor` through every page of a list. */
export async function* everyPage<T>(api: ApiClient, path: string, query: Query): AsyncGenerator<T[]> {
  let cursor: string | undefined;
  do {
    const page = await api.call<{ data: T[]; nextCursor: string | null }>('GET', path, {
      query: { ...query, limit: 100, cursor },
    });
    yield page.data;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}
