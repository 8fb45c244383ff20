// Tenant routes for job types: the service's own (built-in, task modules) and the tenant's remote and push types.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import * as jobTypes from '../../api/job-types.ts';
import type { Needs } from '../../context.ts';
import { tenantOf } from '../auth.ts';

const NAME = /^[a-z][a-z0-9._-]{0,63}$/;

const jobTypeView = z.object({
  name: z.string(),
  execution: z.enum(['builtin', 'task', 'remote', 'push']),
  inputSchema: z.record(z.string(), z.unknown()).describe('JSON Schema (draft 2020-12) of the input'),
  timeoutSeconds: z.number().describe("an attempt's time limit when the job gives none"),
  heartbeatSeconds: z
    .number()
    .nullable()
    .describe('remote and push types: the lease each heartbeat grants (null for types run in hookrelay)'),
  url: z.string().optional().describe('push types: where each attempt is POSTed'),
  description: z.string().nullable(),
  createdAt: z.string().nullable(),
  updatedAt: z.string().nullable(),
});

const nameParams = z.object({
  name: z.string().regex(NAME, 'a job type name matches ^[a-z][a-z0-9._-]{0,63}$'),
});

const registration = z
  .object({
    execution: z
      .enum(['remote', 'push'])
      .describe(
        'remote: workers claim its jobs (POST /v1/worker/claim); push: each attempt is POSTed to `url`',
      ),
    url: z
      .url({ protocol: /^https?$/, error: 'must be an http or https URL' })
      .max(2048)
      .optional()
      .describe('push types only: where attempts go'),
    inputSchema: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        'JSON Schema (draft 2020-12) that POST /v1/jobs checks `input` against; any JSON when absent',
      ),
    timeoutSeconds: z.number().int().min(1).max(86_400).optional().describe('default 3600'),
    heartbeatSeconds: z.number().int().min(5).max(600).optional().describe('default 30'),
    description: z.string().max(500).optional(),
  })
  .strict();

const security = [{ bearer: [] }];

export function jobTypeRoutes(
  ctx: Needs<'jobTypes' | 'outbound' | 'pool' | 'tenantTypes'>,
): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/job-types',
      {
        schema: {
          tags: ['job types'],
          summary:
            'The job types POST /v1/jobs takes: built-in, task modules, and this tenant’s remote and push types',
          security,
          response: { 200: z.object({ data: z.array(jobTypeView) }) },
        },
      },
      async (request) => ({ data: await jobTypes.list(ctx, tenantOf(request)) }),
    );

    app.get(
      '/job-types/:name',
      {
        schema: {
          tags: ['job types'],
          summary: 'One job type',
          security,
          params: nameParams,
          response: { 200: jobTypeView },
        },
      },
      async (request) => jobTypes.show(ctx, tenantOf(request), request.params.name),
    );

    app.put(
      '/job-types/:name',
      {
        schema: {
          tags: ['job types'],
          summary: 'Register (201) or replace (200) a remote or push job type of this tenant',
          security,
          params: nameParams,
          body: registration,
          response: { 200: jobTypeView, 201: jobTypeView },
        },
      },
      async (request, reply) => {
        const { type, created } = await jobTypes.put(
          ctx,
          tenantOf(request),
          request.params.name,
          request.body,
        );
        return reply.code(created ? 201 : 200).send(type);
      },
    );

    app.delete(
      '/job-types/:name',
      {
        schema: {
          tags: ['job types'],
          summary: 'Delete a remote or push job type (409 while it has queued or running jobs)',
          security,
          params: nameParams,
          response: { 204: z.null() },
        },
      },
      async (request, reply) => {
        await jobTypes.remove(ctx, tenantOf(request), request.params.name);
        return reply.code(204).send(null);
      },
    );
  };
}
