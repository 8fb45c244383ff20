// Builds the Fastify application for a role; listening is the caller's business, so tests build their own.
import { randomUUID } from 'node:crypto';
import helmet from '@fastify/helmet';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { AppContext } from '../context.ts';
import { registerConsole } from './console.ts';
import { registerJsonParser } from './json-body.ts';
import { registerOpenApi } from './openapi.ts';
import { clientErrorHandler, registerProblemHandlers, sendProblem } from './problem.ts';
import { adminRoutes } from './routes/admin.ts';
import { healthRoutes } from './routes/health.ts';
import { tenantApi } from './tenant-api.ts';
import { workerApi } from './worker-api.ts';

/** Accept a caller's request id for tracing only if it is short and plain; otherwise make our own. */
const CALLER_REQUEST_ID = /^[\w.:-]{1,128}$/;

export async function buildApp(ctx: AppContext): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    bodyLimit: ctx.config.bodyLimitBytes,
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && CALLER_REQUEST_ID.test(given) ? given : randomUUID();
    },
    clientErrorHandler,
    // Errors Fastify meets before routing (a path that is not valid percent-encoded UTF-8) are problems too.
    frameworkErrors: (error, _request, reply) => sendProblem(reply, 400, error.message),
    // Keep-alive sockets with no request in flight are closed at shutdown instead of holding it open.
    forceCloseConnections: 'idle',
    // A client trickling its request (a byte every few seconds) would hold a socket for ever: Fastify turns
    // Node's request timeout off. Headers and the whole request each get a limit (answered 408, then closed),
    // checked every second rather than Node's default 30. Responses (event streams, long polls) are not limited.
    requestTimeout: ctx.config.httpRequestTimeoutMs,
    http: { headersTimeout: ctx.config.httpHeadersTimeoutMs, connectionsCheckingInterval: 1_000 },
  });

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerProblemHandlers(app);
  // JSON only: anything else is answered 415 instead of being parsed as text.
  app.removeContentTypeParser(['text/plain']);
  registerJsonParser(app);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // Node closes idle keep-alive sockets once, when closing starts; a socket whose request was still in flight
  // then stays open after its response and holds shutdown until the keep-alive timeout. Tell such clients
  // to go, so the socket closes as soon as the response is out.
  // Long polls and event streams end on `draining`, so they answer at once instead of holding shutdown.
  const draining = new AbortController();
  app.addHook('preClose', async () => {
    draining.abort();
  });
  app.addHook('onSend', async (_request, reply) => {
    if (draining.signal.aborted) reply.header('connection', 'close');
  });

  // Security headers on every response. The API serves only JSON, so its policy allows nothing to load or
  // frame it; /docs replaces the policy with one for its own static assets (see openapi.ts).
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
  });
  await registerOpenApi(app);
  await app.register(healthRoutes(ctx));
  if (ctx.config.role !== 'worker') {
    await app.register(adminRoutes(ctx), { prefix: '/v1/admin' });
    await app.register(tenantApi(ctx, draining.signal), { prefix: '/v1' });
    await app.register(workerApi(ctx, draining.signal), { prefix: '/v1' });
    await registerConsole(app);
  }
  return app;
}
