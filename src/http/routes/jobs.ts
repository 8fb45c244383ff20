// Tenant routes for jobs: submit, read (with long poll), result, list, Server-Sent Events, cancel.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { jobStatus, jobView } from '../../api/job-view.ts';
import * as jobs from '../../api/jobs.ts';
import type { Needs } from '../../context.ts';
import { idOf, idParams } from '../../ids.ts';
import { keyRevoked, tenantOf, untilRevoked } from '../auth.ts';
import { orderingKey, submissionBody } from '../job-submission.ts';
import { pageOf, pageQuery, toPage } from '../pagination.ts';
import { HttpProblem } from '../problem.ts';
import { streamEvents } from '../sse.ts';

const security = [{ bearer: [] }];
const jobParams = idParams('job');
const accepted = z.object({
  id: z.string(),
  status: jobStatus,
  statusUrl: z.string(),
  createdAt: z.string(),
});
const jobType = z.string().regex(/^[\w.-]{1,100}$/, 'not a job type name');
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
export function jobRoutes(
  ctx: Needs<
    | 'config'
    | 'intake'
    | 'jobTypes'
    | 'metrics'
    | 'notifications'
    | 'outbound'
    | 'pool'
    | 'principals'
    | 'tenantTypes'
  >,
  draining: AbortSignal,
): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/jobs',
      {
        schema: {
          tags: ['jobs'],
          summary: 'Submit a job; answered 202 at once, the job runs in the background',
          security,
          headers: z.object({ 'idempotency-key': z.string().optional() }),
          body: submissionBody(ctx.jobTypes.names()),
          response: { 200: accepted, 202: accepted },
        },
      },
      async (request, reply) => {
        const key = request.headers['idempotency-key'];
        if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
          throw new HttpProblem(400, 'Idempotency-Key must be 1–255 printable ASCII characters.', {
            errors: [{ path: 'headers.idempotency-key', message: '1–255 printable ASCII characters' }],
          });
        }
        const { job, replayed } = await jobs.submit(ctx, tenantOf(request), request.body, key);
        return reply
          .code(replayed ? 200 : 202)
          .header('location', job.statusUrl)
          .send({ id: job.id, status: job.status, statusUrl: job.statusUrl, createdAt: job.createdAt });
      },
    );

    app.get(
      '/jobs',
      {
        schema: {
          tags: ['jobs'],
          summary: 'List jobs, newest first',
          security,
          querystring: pageQuery('job').extend({
            status: jobStatus.optional(),
            type: jobType.optional(),
            scheduleId: idOf('sch').optional().describe('jobs made by this schedule'),
            orderingKey: orderingKey.optional(),
          }),
          response: { 200: pageOf(jobView) },
        },
      },
      async (request) => {
        const { limit, cursor, status, type, scheduleId, orderingKey } = request.query;
        const views = await jobs.list(ctx, tenantOf(request), {
          status,
          type,
          scheduleId,
          orderingKey,
          before: cursor,
          limit: limit + 1,
        });
        return toPage(views, limit, (view) => view);
      },
    );

    app.get(
      '/jobs/:id',
      {
        schema: {
          tags: ['jobs'],
          summary: 'One job; with waitSeconds, held until the job ends or the time passes (long poll)',
          security,
          params: jobParams,
          querystring: z.object({ waitSeconds: z.coerce.number().int().min(0).max(60).default(0) }),
          response: { 200: jobView },
        },
      },
      async (request, reply) => {
        const { waitSeconds } = request.query;
        if (waitSeconds === 0) return jobs.show(ctx, tenantOf(request), request.params.id, 0, draining);
        const held = untilRevoked(ctx, request, reply, draining);
        const job = await jobs.show(ctx, tenantOf(request), request.params.id, waitSeconds * 1000, held.stop);
        if (held.revoked()) throw keyRevoked();
        return job;
      },
    );

    app.get(
      '/jobs/:id/result',
      {
        schema: {
          tags: ['jobs'],
          summary: "The job's result once it succeeded; 409 with the current status before that",
          security,
          params: jobParams,
          response: { 200: z.unknown() },
        },
      },
      async (request) => jobs.result(ctx, tenantOf(request), request.params.id),
    );

    app.get(
      '/jobs/:id/events',
      {
        schema: {
          tags: ['jobs'],
          summary:
            'Server-Sent Events: one event per status or progress change, closing after the terminal one',
          security,
          params: jobParams,
        },
      },
      async (request, reply) => {
        const held = untilRevoked(ctx, request, reply, draining);
        streamEvents(request, reply, await jobs.follow(ctx, tenantOf(request), request.params.id, held.stop));
      },
    );

    for (const [method, url] of [
      ['POST', '/jobs/:id/cancel'],
      ['DELETE', '/jobs/:id'],
    ] as const) {
      app.route({
        method,
        url,
        schema: {
          tags: ['jobs'],
          summary: 'Cancel a queued or running job; 409 once it has finished',
          security,
          params: jobParams,
          response: { 200: jobView },
        },
        handler: async (request) => jobs.cancel(ctx, tenantOf(request), request.params.id, draining),
      });
    }
  };
}
