// One attempt of a push job type: a signed POST of the job to the type's URL, through the same guarded client,
// signing, timeout, response cap and Retry-After reading as webhooks. The answer decides: a 2xx with a JSON
// body is the result; 202 hands the attempt over to its task token (the worker heartbeats and reports, src/jobs/
// remote.ts); 408, 429, 5xx, timeouts and network errors are a failed attempt, retried; any other status fails
// the job.
import type { Needs } from '../context.ts';
import { owners } from '../crypto/secret-box.ts';
import { send } from '../delivery/send.ts';
import { signatureHeader } from '../delivery/sign.ts';
import { parseRetryAfter } from '../outbound/retry-after.ts';
import { jsonRefusal } from '../storable.ts';
import type { JobRow } from '../store/jobs.ts';
import { handOver, insertTaskTokens, startPushAttempt } from '../store/task-queue.ts';
import { getTenant } from '../store/tenants.ts';
import { withTransaction } from '../store/transaction.ts';
import { VERSION } from '../version.ts';
import type { Outcome } from './outcome.ts';
import { newTaskToken } from './task-token.ts';

/** An outcome to record, or one already settled elsewhere: handed over to the token, or the lease lost. */
export type PushEnd = Outcome | { kind: 'handed-over' } | { kind: 'lost' };

const RETRIED = (status: number) => status === 408 || status === 429 || status >= 500;

export async function pushAttempt(
  ctx: Needs<'config' | 'deliveryOutbound' | 'pool' | 'secrets' | 'tenantTypes'>,
  job: JobRow,
  signal: AbortSignal,
): Promise<PushEnd> {
  const type = await ctx.tenantTypes.find(job.tenant_id, job.type);
  const url = type?.row.execution === 'push' ? type.row.url : null;
  if (!url) return { kind: 'failed', error: `"${job.type}" is no longer a push job type of this tenant` };
  const tenant = await getTenant(ctx.pool, job.tenant_id);
  if (!tenant) return { kind: 'failed', error: 'the tenant no longer exists' };
  const { token, hash } = newTaskToken();
  // The token is written before the POST: a worker may report through it before it answers 202.
  const started = await withTransaction(ctx.pool, async (tx) => {
    const row = await startPushAttempt(tx, job.id, job.lease_id);
    if (row) await insertTaskTokens(tx, [{ hash, jobId: job.id, leaseId: job.lease_id }]);
    return row;
  });
  if (!started?.attempt_deadline) return { kind: 'lost' };

  const id = `${job.id}.${job.attempts}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({
    type: 'job.execute',
    timestamp: new Date(timestamp * 1000).toISOString(),
    data: {
      jobId: job.id,
      type: job.type,
      input: job.input,
      attempt: job.attempts,
      maxAttempts: job.max_attempts,
      metadata: job.metadata,
      taskToken: token,
      deadline: started.attempt_deadline.toISOString(),
    },
  });
  const secret = ctx.secrets.open(tenant.signing_secret, owners.tenant(tenant.id));
  const result = await send(ctx.deliveryOutbound, {
    url,
    body,
    timeoutMs: ctx.config.deliveryTimeoutMs,
    signal,
    maxBodyBytes: ctx.config.bodyLimitBytes,
    headers: {
      'content-type': 'application/json',
      'user-agent': `hookrelay/${VERSION}`,
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader([secret], id, timestamp, body),
    },
  });
  // Cancelled, timed out, lease lost, shutting down: the caller tells which from the signal.
  if (signal.aborted) throw signal.reason;
  const status = result.status;
  if (status === null) return { kind: 'retry', error: `push to the job type's url failed: ${result.error}` };
  if (status === 202) {
    // From now on the lease is the token's: heartbeats keep it, and this worker's lease keeper lets it go.
    const handed = await handOver(ctx.pool, { id: job.id, leaseId: job.lease_id });
    return handed ? { kind: 'handed-over' } : { kind: 'lost' };
  }
  if (status >= 200 && status < 300) {
    // The work was done and said so: a result that cannot be taken fails the job rather than doing it again.
    if (result.truncated) {
      return { kind: 'failed', error: `the push answer's body is over ${ctx.config.bodyLimitBytes} bytes` };
    }
    const text = result.body?.trim() ?? '';
    if (text === '') return { kind: 'succeeded', result: null };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { kind: 'failed', error: `the push answered ${status} with a body that is not JSON` };
    }
    const refusal = jsonRefusal(parsed);
    return refusal
      ? { kind: 'failed', error: `the push answer is not storable: ${refusal}` }
      : { kind: 'succeeded', result: parsed };
  }
  const answer = `the push answered ${status}${result.body ? `: ${result.body.slice(0, 200)}` : ''}`;
  if (RETRIED(status)) return { kind: 'retry', error: answer, delayMs: parseRetryAfter(result.retryAfter) };
  return { kind: 'failed', error: answer };
}
