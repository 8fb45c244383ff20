// The process logger: structured JSON through pino, with secrets and payloads redacted at the source.
import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Paths that may carry credentials or customer payloads. Redaction happens in the logger, so a
 * careless `log.info({ req })` or `log.info({ job })` elsewhere still cannot leak them.
 */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'headers.authorization',
  '*.apiKey',
  '*.secret',
  '*.signingSecret',
  '*.password',
  '*.input',
  '*.result',
  '*.body',
  '*.payload',
];

/** A task token is a credential in a URL's path (/v1/tasks/{token}/…): logged as a mark, never as itself. */
const TASK_TOKEN_IN_PATH = /^(\/v1\/tasks\/)[^/?#]*/;

function redactUrl(url: string): string {
  return url.replace(TASK_TOKEN_IN_PATH, '$1[redacted]');
}

/** A Fastify request (its `raw` is Node's), logged as Fastify logs it with its URL's credentials masked. */
interface FastifyRequestLike {
  raw: unknown;
  method: string;
  url: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/** A request as Fastify logs it, its URL masked; anything else logged as `req` keeps its shape, URL masked. */
function serializeRequest(req: unknown): unknown {
  if (typeof req !== 'object' || req === null) return req;
  if ('raw' in req) {
    const request = req as FastifyRequestLike;
    return {
      method: request.method,
      url: redactUrl(request.url),
      host: request.host,
      remoteAddress: request.ip,
      remotePort: request.socket?.remotePort,
    };
  }
  const { url } = req as { url?: unknown };
  return typeof url === 'string' ? { ...req, url: redactUrl(url) } : req;
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'hookrelay' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Fastify takes a logger's own serializers over its defaults: this one is Fastify's, with the URL masked.
      serializers: { req: serializeRequest },
    },
    destination,
  );
}
