// Every error response is RFC 9457 problem+json; this module is the one place that shapes them.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import {
  AttemptConflict,
  Conflict,
  type FieldError,
  InvalidRequest,
  isDatabaseUnavailable,
  NotFound,
  QuotaExceeded,
  Unprocessable,
} from '../errors.ts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
}

/** Thrown by handlers for expected failures; the error handler turns it into a problem response. */
export class HttpProblem extends Error {
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    detail: string,
    options: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.status = status;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }
}

export function problem(status: number, detail: string, errors?: FieldError[], title?: string): Problem {
  return {
    type: 'about:blank',
    title: title ?? STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    ...(errors && { errors }),
  };
}

export function sendProblem(reply: FastifyReply, status: number, detail: string, errors?: FieldError[]) {
  return reply
    .code(status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(problem(status, detail, errors));
}

const RETRY_AFTER_UNAVAILABLE = '5';

/** Fastify's names for the parts of a request, as a sentence says them. */
const PART_NAMES: Record<string, string> = {
  body: 'The request body',
  querystring: 'The query string',
  params: 'The path',
  headers: 'A request header',
};

/** The status of each kind of domain error (src/errors.ts). */
function fromDomain(error: Error): { body: Problem; headers: Record<string, string> } | undefined {
  if (error instanceof NotFound) return { body: problem(404, error.message), headers: {} };
  if (error instanceof AttemptConflict)
    return { body: problem(409, error.message, undefined, error.title), headers: {} };
  if (error instanceof Conflict) return { body: problem(409, error.message), headers: {} };
  if (error instanceof Unprocessable) return { body: problem(422, error.message), headers: {} };
  if (error instanceof InvalidRequest)
    return { body: problem(400, error.message, error.errors), headers: {} };
  if (error instanceof QuotaExceeded)
    return { body: problem(429, error.message), headers: { 'retry-after': String(error.retryAfterSeconds) } };
  return undefined;
}

function toProblem(
  error: FastifyError,
  request: FastifyRequest,
): { body: Problem; headers: Record<string, string> } {
  if (error instanceof HttpProblem) {
    return { body: problem(error.status, error.message, error.errors), headers: error.headers };
  }
  const domain = fromDomain(error);
  if (domain) return domain;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = error.validationContext ?? 'request';
    const errors = error.validation.map((issue) => ({
      path: [where, ...issue.instancePath.split('/').filter(Boolean)].join('.'),
      message: issue.message ?? 'is invalid',
    }));
    return { body: problem(400, `${PART_NAMES[where] ?? 'The request'} is not valid.`, errors), headers: {} };
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // Fastify's own client errors (bad JSON, too large, wrong media type) carry messages safe to show.
    return { body: problem(status, error.message), headers: {} };
  }
  if (isDatabaseUnavailable(error)) {
    request.log.warn({ err: error }, 'database unavailable');
    return {
      body: problem(503, 'The database is unavailable; try again shortly.'),
      headers: { 'retry-after': RETRY_AFTER_UNAVAILABLE },
    };
  }
  request.log.error({ err: error }, 'unhandled error');
  return { body: problem(500, `An unexpected error occurred (request ${request.id}).`), headers: {} };
}

export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { body, headers } = toProblem(error, request);
    return reply.code(body.status).headers(headers).type(PROBLEM_CONTENT_TYPE).send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 404, `No route for ${request.method} ${request.url.slice(0, 200)}.`),
  );
}

/**
 * Answers requests Node's HTTP parser rejects before Fastify sees them (bad request line, headers too large),
 * so even those get problem+json rather than a bare socket reset.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const detail =
    status === 408
      ? 'The request was not received in time (HTTP_HEADERS_TIMEOUT, HTTP_REQUEST_TIMEOUT).'
      : 'The HTTP request could not be parsed.';
  const body = JSON.stringify(problem(status, detail));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
