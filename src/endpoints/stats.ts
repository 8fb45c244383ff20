// An endpoint's delivery attempts over a recent window, for its page in the console: totals, success rate and
// buckets for a chart.
import type { Needs } from '../context.ts';
import { EndpointNotFound } from '../errors.ts';
import { idFloor } from '../ids.ts';
import { endpointAttemptBuckets } from '../store/delivery-stats.ts';
import { getEndpoint } from '../store/endpoints.ts';

/** Every window is cut into this many buckets: fine enough for a chart, few enough to draw. */
const BUCKETS = 24;

export async function endpointStats(
  ctx: Needs<'config' | 'pool'>,
  tenantId: string,
  id: string,
  windowMs: number,
) {
  const endpoint = await getEndpoint(ctx.pool, tenantId, id);
  if (!endpoint) throw new EndpointNotFound(id);
  const bucketMs = windowMs / BUCKETS;
  const since = new Date(Date.now() - windowMs);
  // A message's attempts fall within the retry schedule's span after it was made: older messages are not read
  // (a replay of one is the exception these figures leave out).
  const span = ctx.config.deliveryRetryScheduleMs.reduce((sum, ms) => sum + ms, 0);
  const fromMessageId = idFloor('msg', new Date(since.getTime() - span));
  const buckets = await endpointAttemptBuckets(ctx.pool, endpoint.id, since, bucketMs, fromMessageId);
  const succeeded = buckets.reduce((n, b) => n + b.succeeded, 0);
  const failed = buckets.reduce((n, b) => n + b.failed, 0);
  return {
    endpointId: endpoint.id,
    since: since.toISOString(),
    bucketSeconds: bucketMs / 1000,
    succeeded,
    failed,
    successRate: succeeded + failed === 0 ? null : succeeded / (succeeded + failed),
    buckets: buckets.map((b) => ({ start: b.start.toISOString(), succeeded: b.succeeded, failed: b.failed })),
  };
}
