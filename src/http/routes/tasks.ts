// What a remote or push attempt's worker reports. No API key: the task token in the path is the credential (256
// random bits, one per attempt, stored hashed), so a worker behind any firewall or in any language needs nothing
// else.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TaskReports } from '../../jobs/remote.ts';

const tokenParams = z.object({ taskToken: z.string().min(1).max(200) });

const heartbeatBody = z
  .object({
    progress: z
      .object({
        percent: z.number().min(0).max(100),
        message: z.string().max(500).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const completeBody = z.object({ result: z.unknown().describe("the job's result: any JSON") }).strict();

const failBody = z
  .object({
    error: z.object({ message: z.string().max(1000), code: z.string().max(100).optional() }).strict(),
    retry: z.boolean().default(true).describe('false: the job fails now, whatever attempts are left'),
    retryAfterSeconds: z
      .number()
      .min(0)
      .max(86_400)
      .optional()
      .describe('the next attempt no sooner than this'),
  })
  .strict();

const conflicts =
  '409: the attempt cannot report any more; `title` says why: "Attempt cancelled", "Attempt ended" or "Lease lost"';

export function taskRoutes(reports: TaskReports): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/tasks/:taskToken/heartbeat',
      {
        schema: {
          tags: ['workers'],
          summary: 'Keep the attempt’s lease (and report progress)',
          description: conflicts,
          params: tokenParams,
          body: heartbeatBody.nullish(),
          response: { 200: z.object({ leaseExpiresAt: z.string() }) },
        },
      },
      async (request) => {
        const progress = request.body?.progress;
        return reports.heartbeat(
          request.params.taskToken,
          progress && { percent: progress.percent, message: progress.message ?? null },
        );
      },
    );

    app.post(
      '/tasks/:taskToken/complete',
      {
        schema: {
          tags: ['workers'],
          summary: 'The attempt succeeded: the job ends with this result',
          description: conflicts,
          params: tokenParams,
          body: completeBody,
          response: { 200: z.object({ jobId: z.string(), status: z.literal('succeeded') }) },
        },
      },
      async (request) => reports.complete(request.params.taskToken, request.body.result),
    );

    app.post(
      '/tasks/:taskToken/fail',
      {
        schema: {
          tags: ['workers'],
          summary: 'The attempt failed: retried with backoff (or after retryAfterSeconds), or the job fails',
          description: conflicts,
          params: tokenParams,
          body: failBody,
          response: {
            200: z.object({
              jobId: z.string(),
              status: z.enum(['queued', 'failed']),
              nextAttemptAt: z.string().nullable(),
            }),
          },
        },
      },
      async (request) => reports.fail(request.params.taskToken, request.body),
    );
  };
}
