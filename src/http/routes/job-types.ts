// Tenant route for the job types this service runs: built-in and task modules, each with its input's schema.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Needs } from '../../context.ts';

const jobTypeView = z.object({
  name: z.string(),
  execution: z.enum(['builtin', 'task']),
  inputSchema: z.record(z.string(), z.unknown()).describe('JSON Schema (draft 2020-12) of the input'),
  timeoutSeconds: z.number().describe("a job's time limit when it gives none"),
});

export function jobTypeRoutes(ctx: Needs<'jobTypes'>): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/job-types',
      {
        schema: {
          tags: ['jobs'],
          summary: 'The job types POST /v1/jobs takes, with the JSON Schema of each one’s input',
          security: [{ bearer: [] }],
          response: { 200: z.object({ data: z.array(jobTypeView) }) },
        },
      },
      async () => ({ data: ctx.jobTypes.list() }),
    );
  };
}
