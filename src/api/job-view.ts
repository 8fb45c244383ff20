// The job as the API shows it: its schema (the contract's, in the OpenAPI document) and the mapping from its row.
import { z } from 'zod';
import type { JobRow } from '../store/jobs.ts';

export const jobStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);

export const jobView = z.object({
  id: z.string(),
  type: z.string(),
  status: jobStatus,
  progress: z.object({ percent: z.number(), message: z.string().nullable() }),
  attempts: z.number(),
  maxAttempts: z.number(),
  input: z.unknown(),
  result: z.unknown(),
  error: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  callbackUrl: z.string().nullable(),
  endpointId: z.string().nullable(),
  priority: z.number(),
  timeoutSeconds: z.number(),
  runAt: z.string().nullable(),
  cancelRequested: z.boolean(),
  execution: z
    .enum(['builtin', 'task', 'remote', 'push'])
    .describe(
      'where it runs: in hookrelay (builtin, task), on workers that claim it (remote), or POSTed (push)',
    ),
  leaseExpiresAt: z
    .string()
    .nullable()
    .describe(
      "while a remote or push attempt runs: when its lease ends unless its worker's heartbeat extends it",
    ),
  lastHeartbeatAt: z.string().nullable().describe("the running remote or push attempt's last heartbeat"),
  scheduleId: z.string().nullable().describe('the schedule that made the job (an occurrence or a trigger)'),
  orderingKey: z
    .string()
    .nullable()
    .describe(
      'jobs with the same key run one at a time in submission order; a queued one may wait for those before it',
    ),
  waiting: z
    .boolean()
    .describe(
      'queued behind an unfinished job of its ordering key: it starts once the ones before it have ended',
    ),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
  statusUrl: z.string(),
  resultUrl: z.string(),
});

export type JobView = z.infer<typeof jobView>;

const iso = (date: Date | null) => date?.toISOString() ?? null;

/** Where a client reads a job. */
export const statusUrlOf = (id: string) => `/v1/jobs/${id}`;

export function viewJob(row: JobRow): JobView {
  return {
    id: row.id,
    type: row.type,
    status: row.status,
    progress: { percent: row.progress_percent, message: row.progress_message },
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    input: row.input,
    result: row.result,
    error: row.error,
    metadata: row.metadata,
    callbackUrl: row.callback_url,
    endpointId: row.endpoint_id,
    priority: row.priority,
    timeoutSeconds: row.timeout_seconds,
    runAt: iso(row.run_at),
    cancelRequested: row.cancel_requested_at !== null,
    execution: row.execution,
    leaseExpiresAt:
      row.status === 'running' && (row.execution === 'remote' || row.execution === 'push')
        ? iso(row.next_attempt_at)
        : null,
    lastHeartbeatAt: row.status === 'running' ? iso(row.heartbeat_at) : null,
    scheduleId: row.schedule_id,
    orderingKey: row.ordering_key,
    waiting: row.status === 'queued' && row.ordering_key !== null && row.next_attempt_at === null,
    createdAt: row.created_at.toISOString(),
    startedAt: iso(row.started_at),
    completedAt: iso(row.completed_at),
    statusUrl: statusUrlOf(row.id),
    resultUrl: `/v1/jobs/${row.id}/result`,
  };
}
