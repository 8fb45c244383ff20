// Draining a closed endpoint: once an endpoint is disabled (by its failures or by its tenant) or deleted, what
// still waits for it is dead-lettered (replayable once it is fixed), in bounded batches on a worker, after the
// request or attempt that closed it has returned. The state change is one row; the messages behind it may be a
// day of backlog. Claims leave closed endpoints' messages alone (store/delivery-queue.ts claimDue), so nothing is sent
// to them meanwhile, and the drain ends with one endpoint.disabled alert carrying the count, not one alert per
// message.
//
// A drain is a pg-boss job, sent in the transaction that closes the endpoint (so a closed endpoint always has
// one coming), run by one worker process, and retried by pg-boss if that worker dies. A schedule also looks for
// closed endpoints whose messages arrived after their drain (a job naming the endpoint, a replay): drained
// without an alert, since nothing changed about the endpoint.
import type { PgBoss } from 'pg-boss';
import type { Needs } from '../context.ts';
import { newId } from '../ids.ts';
import { countDeadLettersSince, deadLetterPending, stranded } from '../store/dead-letters.ts';
import { getEndpointById } from '../store/endpoints.ts';
import type { DeadLetterReason } from '../store/messages.ts';
import type { Tx } from '../store/transaction.ts';
import { withTransaction } from '../store/transaction.ts';
import { fanOut } from './fan-out.ts';

const DRAIN_QUEUE = 'hookrelay-endpoint-drain';
const SWEEP_QUEUE = 'hookrelay-endpoint-drain-sweep';
/** Messages per statement: each batch commits alone, in tens of milliseconds. */
const BATCH = 1_000;

export interface DrainRequest {
  endpointId: string;
  tenantId: string;
  reason: Extract<DeadLetterReason, 'endpoint_disabled' | 'endpoint_deleted'>;
  /** The endpoint's change, announced when the drain is over; none for a sweep's drain. */
  alert?: {
    url: string;
    failingSince: string | null;
    closedAt: string;
    cause: 'failing' | 'disabled' | 'deleted';
  };
}

/** Queues the drain of an endpoint in the caller's transaction (the one that closes it). */
export async function requestDrain(ctx: Needs<'boss'>, tx: Tx, request: DrainRequest): Promise<void> {
  await ctx.boss.send(DRAIN_QUEUE, request, {
    db: { executeSql: (text, values) => tx.query(text, values) },
    // At most one drain of an endpoint waits while another runs (the queue is `stately`): the sweep cannot
    // pile drains up behind a long one.
    singletonKey: request.endpointId,
    retryLimit: 10,
    retryDelay: 5,
    retryBackoff: true,
  });
}

/** Dead-letters what waits for the endpoint, a batch at a time, then raises the alert; returns how many. */
export async function drain(ctx: Needs<'log' | 'metrics' | 'pool'>, request: DrainRequest): Promise<number> {
  for (;;) {
    if (request.reason === 'endpoint_disabled') {
      // Enabled again meanwhile: what still waits is delivered after all.
      const endpoint = await getEndpointById(ctx.pool, request.endpointId);
      if (endpoint && !endpoint.disabled) break;
    }
    const ids = Array.from({ length: BATCH }, () => newId('dl'));
    const count = await deadLetterPending(ctx.pool, request.endpointId, request.reason, ids);
    ctx.metrics.deadLetters.inc({ reason: request.reason }, count);
    if (count < BATCH) break;
  }
  const { alert } = request;
  // Counted from the dead letters themselves: a drain retried after a crash, or helped by the sweep's, still
  // announces every message its endpoint's closing dead-lettered.
  const total = await countDeadLettersSince(
    ctx.pool,
    request.tenantId,
    request.endpointId,
    request.reason,
    new Date(alert?.closedAt ?? Date.now()),
  );
  if (alert) {
    await withTransaction(ctx.pool, (tx) =>
      fanOut(
        tx,
        {
          tenantId: request.tenantId,
          jobId: null,
          type: 'endpoint.disabled',
          data: {
            endpointId: request.endpointId,
            url: alert.url,
            cause: alert.cause,
            failingSince: alert.failingSince,
            disabledAt: alert.closedAt,
            deadLettered: total,
          },
        },
        { kind: 'subscribers' },
      ),
    );
  }
  ctx.log.info(
    { endpointId: request.endpointId, reason: request.reason, deadLettered: total },
    'endpoint drained',
  );
  return total;
}

/** Queues a drain, without an alert, for each closed endpoint that has messages waiting. */
export async function drainStranded(ctx: Needs<'boss' | 'pool'>): Promise<number> {
  const found = await stranded(ctx.pool);
  for (const endpoint of found) {
    await withTransaction(ctx.pool, (tx) =>
      requestDrain(ctx, tx, {
        endpointId: endpoint.endpoint_id,
        tenantId: endpoint.tenant_id,
        reason: endpoint.deleted ? 'endpoint_deleted' : 'endpoint_disabled',
      }),
    );
  }
  return found.length;
}

/** Creates the queues (every role sends drains). */
export async function createDrainQueues(boss: PgBoss): Promise<void> {
  await boss.createQueue(DRAIN_QUEUE, { policy: 'stately' });
  await boss.createQueue(SWEEP_QUEUE);
}

/** Runs drains on this (worker) process, and the sweep each minute on one worker at a time. */
export async function startDrains(ctx: Needs<'boss' | 'log' | 'metrics' | 'pool'>): Promise<void> {
  await ctx.boss.work<DrainRequest>(DRAIN_QUEUE, async ([job]) => {
    if (job) await drain(ctx, job.data);
  });
  await ctx.boss.schedule(SWEEP_QUEUE, '* * * * *');
  await ctx.boss.work(SWEEP_QUEUE, async () => {
    await drainStranded(ctx);
  });
}
