// Messages, attempts and dead letters as the API shows them: their schemas (the contract's, in the OpenAPI
// document) and the mappings from their rows.
import { z } from 'zod';
import type { DeadLetterRow } from '../store/dead-letters.ts';
import type { AttemptRow, MessageRow } from '../store/messages.ts';

const iso = (date: Date | null) => date?.toISOString() ?? null;

export const attemptView = z.object({
  id: z.string(),
  attemptedAt: z.string(),
  durationMs: z.number(),
  responseStatus: z.number().nullable(),
  responseBody: z.string().nullable(),
  error: z.string().nullable(),
});

export const messageView = z.object({
  id: z.string(),
  jobId: z.string().nullable(),
  endpointId: z.string().nullable(),
  url: z.string(),
  eventType: z.string(),
  status: z.enum(['pending', 'delivered', 'dead']),
  attemptCount: z.number(),
  lastError: z.string().nullable(),
  lastResponseStatus: z.number().nullable(),
  nextAttemptAt: z.string().nullable(),
  orderingKey: z.string().nullable().describe("its job's ordering key"),
  waiting: z
    .boolean()
    .describe(
      'pending behind the message before it of its ordering key to the same receiver: not attempted until that one is delivered or dead-lettered',
    ),
  createdAt: z.string(),
  deliveredAt: z.string().nullable(),
  payload: z.unknown(),
});

export type MessageView = z.infer<typeof messageView>;

export const messageWithAttempts = messageView.extend({ attempts: z.array(attemptView) });

export const deadLetterView = z.object({
  id: z.string(),
  messageId: z.string(),
  jobId: z.string().nullable(),
  endpointId: z.string().nullable(),
  url: z.string(),
  eventType: z.string(),
  reason: z.enum(['exhausted', 'gone', 'endpoint_disabled', 'endpoint_deleted']),
  attempts: z.number(),
  lastError: z.string().nullable(),
  lastResponseStatus: z.number().nullable(),
  deadLetteredAt: z.string(),
  replayedAt: z.string().nullable(),
  replayedBy: z.string().nullable(),
});

export type DeadLetterView = z.infer<typeof deadLetterView>;

export function viewAttempt(row: AttemptRow): z.infer<typeof attemptView> {
  return {
    id: row.id,
    attemptedAt: row.attempted_at.toISOString(),
    durationMs: row.duration_ms,
    responseStatus: row.response_status,
    responseBody: row.response_body,
    error: row.error,
  };
}

export function viewMessage(row: MessageRow): z.infer<typeof messageView> {
  return {
    id: row.id,
    jobId: row.job_id,
    endpointId: row.endpoint_id,
    url: row.url,
    eventType: row.event_type,
    status: row.status,
    attemptCount: row.earlier_attempts + row.attempts,
    lastError: row.last_error,
    lastResponseStatus: row.last_response_status,
    nextAttemptAt: iso(row.next_attempt_at),
    orderingKey: row.ordering_key,
    waiting: row.status === 'pending' && row.ordering_key !== null && row.next_attempt_at === null,
    createdAt: row.created_at.toISOString(),
    deliveredAt: iso(row.delivered_at),
    payload: row.payload,
  };
}

export function viewDeadLetter(row: DeadLetterRow): z.infer<typeof deadLetterView> {
  return {
    id: row.id,
    messageId: row.message_id,
    jobId: row.job_id,
    endpointId: row.endpoint_id,
    url: row.url,
    eventType: row.event_type,
    reason: row.reason,
    attempts: row.attempts,
    lastError: row.last_error,
    lastResponseStatus: row.last_response_status,
    deadLetteredAt: row.dead_lettered_at.toISOString(),
    replayedAt: iso(row.replayed_at),
    replayedBy: row.replayed_by,
  };
}
