// Serves the web console (src/console: plain modules, no build) at /console, under its own strict policy:
// scripts, styles and API calls from this origin only, nothing inline, nothing framed.
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

const ROOT = path.resolve(import.meta.dirname, '..', 'console');

const POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export async function registerConsole(app: FastifyInstance): Promise<void> {
  // Relative asset paths in the page need the trailing slash.
  app.get('/console', { schema: { hide: true } }, (_request, reply) => reply.redirect('/console/'));
  await app.register(async (scope) => {
    scope.addHook('onSend', async (_request, reply) => {
      reply.header('content-security-policy', POLICY);
    });
    await scope.register(fastifyStatic, {
      root: ROOT,
      prefix: '/console/',
      // /docs registers the plugin too; only one may decorate the reply.
      decorateReply: false,
      schemaHide: true,
      // Asset names carry no content hash, so they are cached briefly and revalidated by ETag; the page itself
      // is always revalidated, so a new release is picked up on the next load.
      maxAge: '5m',
      etag: true,
      setHeaders(response, file) {
        if (file.endsWith('.html')) response.header('cache-control', 'no-cache');
      },
    });
  });
}
