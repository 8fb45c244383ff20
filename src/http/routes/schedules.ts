// Tenant routes for schedules: recurring jobs, timed by pg-boss's scheduler (src/schedules/).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { overlap, scheduleView } from '../../api/schedule-view.ts';
import * as schedules from '../../api/schedules.ts';
import type { Needs } from '../../context.ts';
import { idOf, idParams } from '../../ids.ts';
import { tenantOf } from '../auth.ts';
import { jobTemplate } from '../job-submission.ts';
import { pageOf, pageQuery, toPage } from '../pagination.ts';

const security = [{ bearer: [] }];
const scheduleParams = idParams('sch');
const fields = (types: string[]) => ({
  name: z.string().max(200).nullable().optional(),
  cron: z
    .string()
    .max(200)
    .describe('5-field cron expression (minute hour day-of-month month day-of-week), or @daily, @hourly, …'),
  timezone: z.string().max(64).optional().describe('IANA time zone the expression is read in (default UTC)'),
  job: jobTemplate(types),
  overlap: overlap.optional(),
  paused: z.boolean().optional(),
});

export function scheduleRoutes(
  ctx: Needs<'boss' | 'config' | 'intake' | 'jobTypes' | 'outbound' | 'pool' | 'tenantTypes'>,
): FastifyPluginAsyncZod {
  const body = fields(ctx.jobTypes.names());
  return async (app) => {
    app.post(
      '/schedules',
      {
        schema: {
          tags: ['schedules'],
          summary: 'Create a schedule: a job made at each occurrence of a cron expression in a time zone',
          security,
          body: z.object(body).strict(),
          response: { 201: scheduleView },
        },
      },
      async (request, reply) =>
        reply.code(201).send(await schedules.create(ctx, tenantOf(request), request.body)),
    );

    app.get(
      '/schedules',
      {
        schema: {
          tags: ['schedules'],
          summary: 'List schedules, newest first',
          security,
          querystring: pageQuery('sch'),
          response: { 200: pageOf(scheduleView) },
        },
      },
      async (request) => {
        const { limit, cursor } = request.query;
        const views = await schedules.list(ctx, tenantOf(request), { before: cursor, limit: limit + 1 });
        return toPage(views, limit, (view) => view);
      },
    );

    app.get(
      '/schedules/:id',
      {
        schema: {
          tags: ['schedules'],
          summary: 'One schedule, with its next runs',
          security,
          params: scheduleParams,
          response: { 200: scheduleView },
        },
      },
      async (request) => schedules.show(ctx, tenantOf(request), request.params.id),
    );

    app.patch(
      '/schedules/:id',
      {
        schema: {
          tags: ['schedules'],
          summary: 'Change a schedule (a job replaces the template whole)',
          security,
          params: scheduleParams,
          body: z.object(body).partial().strict(),
          response: { 200: scheduleView },
        },
      },
      async (request) => schedules.update(ctx, tenantOf(request), request.params.id, request.body),
    );

    app.delete(
      '/schedules/:id',
      {
        schema: {
          tags: ['schedules'],
          summary: 'Delete a schedule; the jobs it made stay',
          security,
          params: scheduleParams,
          response: { 204: z.null() },
        },
      },
      async (request, reply) => {
        await schedules.remove(ctx, tenantOf(request), request.params.id);
        return reply.code(204).send(null);
      },
    );

    for (const [action, paused] of [
      ['pause', true],
      ['resume', false],
    ] as const) {
      app.post(
        `/schedules/:id/${action}`,
        {
          schema: {
            tags: ['schedules'],
            summary: paused
              ? 'Pause: no occurrence makes a job until resumed'
              : 'Resume: occurrences from now on make jobs (those missed while paused are not made)',
            security,
            params: scheduleParams,
            response: { 200: scheduleView },
          },
        },
        async (request) => schedules.setPaused(ctx, tenantOf(request), request.params.id, paused),
      );
    }

    app.post(
      '/schedules/:id/trigger',
      {
        schema: {
          tags: ['schedules'],
          summary: "A job from the schedule's template now, outside the cron",
          security,
          params: scheduleParams,
          response: { 202: z.object({ jobId: idOf('job') }) },
        },
      },
      async (request, reply) =>
        reply.code(202).send(await schedules.trigger(ctx, tenantOf(request), request.params.id)),
    );
  };
}
