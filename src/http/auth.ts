// Bearer-key authentication and role checks, as hooks the route plugins install.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Needs } from '../context.ts';
import { hashApiKey, sameKey } from '../tenants/keys.ts';
import type { Principal } from '../tenants/principal-cache.ts';
import { HttpProblem } from './problem.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

const ENV_OPERATOR: Principal = { keyId: 'env:ADMIN_API_KEY', tenantId: null, role: 'admin' };
const BEARER = /^Bearer ([\x21-\x7e]{1,256})$/;

function unauthorized(detail: string): HttpProblem {
  return new HttpProblem(401, detail, { headers: { 'www-authenticate': 'Bearer' } });
}

/** A long poll whose key was revoked while it waited: it answers as the key would now. */
export const keyRevoked = () => unauthorized('The API key was revoked.');

export function authenticate(ctx: Needs<'config' | 'principals'>) {
  return async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    if (!header) throw unauthorized('Send an API key as "Authorization: Bearer <key>".');
    const key = BEARER.exec(header)?.[1];
    if (!key) throw unauthorized('The Authorization header must be "Bearer <key>".');
    if (ctx.config.adminApiKey && sameKey(key, ctx.config.adminApiKey)) {
      request.principal = ENV_OPERATOR;
      return;
    }
    const principal = await ctx.principals.find(hashApiKey(key));
    if (!principal) throw unauthorized('The API key is not valid.');
    request.principal = principal;
  };
}

export async function requireAdmin(request: FastifyRequest, _reply: FastifyReply) {
  if (request.principal.role !== 'admin') throw new HttpProblem(403, 'This route needs an operator key.');
}

/** A tenant key: worker keys reach only /v1/worker/* (requireWorker). */
export async function requireTenant(request: FastifyRequest, _reply: FastifyReply) {
  if (request.principal.tenantId === null) {
    throw new HttpProblem(403, 'Operator keys belong to no tenant; use a tenant API key for this route.');
  }
  if (request.principal.role === 'worker') {
    throw new HttpProblem(403, 'Worker keys reach only /v1/worker/*; use a tenant API key for this route.');
  }
}

/** A tenant's key or its worker key (the routes remote workers use). */
export async function requireWorker(request: FastifyRequest, _reply: FastifyReply) {
  if (request.principal.tenantId === null) {
    throw new HttpProblem(
      403,
      "Operator keys belong to no tenant; use a tenant's worker or API key for this route.",
    );
  }
}

/** The calling tenant's id; routes behind requireTenant only. */
export function tenantOf(request: FastifyRequest): string {
  return request.principal.tenantId as string;
}

/** A response that outlives its request's authentication (an event stream, a long poll), and when to end it. */
export interface HeldOpen {
  /** Aborted when `draining` is, or when the key that opened it is revoked. */
  stop: AbortSignal;
  /** Whether it was the key's revocation that ended it: what was read after it must not be answered. */
  revoked(): boolean;
}

export function untilRevoked(
  ctx: Needs<'principals'>,
  request: FastifyRequest,
  reply: FastifyReply,
  draining: AbortSignal,
): HeldOpen {
  const watch = ctx.principals.watch(request.principal.keyId);
  // A client that hung up during authentication closed the response already: its 'close' has fired.
  if (reply.raw.closed) watch.release();
  else reply.raw.once('close', watch.release);
  return { stop: AbortSignal.any([draining, watch.signal]), revoked: () => watch.signal.aborted };
}
