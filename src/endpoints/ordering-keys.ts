// An endpoint's blocked ordering keys, for operators (the console's endpoint page, `hookrelay endpoints keys`):
// keys whose head message has failed an attempt and holds the messages behind it, with why (the head's last
// error or status) and until when (its next attempt).
import type { Needs } from '../context.ts';
import { EndpointNotFound } from '../errors.ts';
import { getEndpoint } from '../store/endpoints.ts';
import { blockedKeys } from '../store/messages.ts';

const iso = (date: Date | null) => date?.toISOString() ?? null;

export async function blockedKeysOf(ctx: Needs<'pool'>, tenantId: string, id: string, limit: number) {
  const endpoint = await getEndpoint(ctx.pool, tenantId, id);
  if (!endpoint) throw new EndpointNotFound(id);
  const rows = await blockedKeys(ctx.pool, tenantId, endpoint.id, limit);
  return {
    data: rows.map((row) => ({
      orderingKey: row.ordering_key,
      pending: row.pending,
      head: {
        messageId: row.id,
        jobId: row.job_id,
        attemptCount: row.attempt_count,
        lastError: row.last_error,
        lastResponseStatus: row.last_response_status,
        nextAttemptAt: iso(row.next_attempt_at),
        createdAt: row.created_at.toISOString(),
      },
    })),
  };
}
