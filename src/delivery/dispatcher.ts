// Delivers leased messages (see claimer.ts): loads each claimed batch's endpoints and tenants once, then runs
// each message's attempt (deliver.ts). Successes, nearly all of the traffic, are recorded together by group
// commit (one statement for many); a retry, a dead letter or a failure streak takes its own transaction.
import type { Needs } from '../context.ts';
import { owners } from '../crypto/secret-box.ts';
import { oneByOne } from '../one-by-one.ts';
import { createBatcher } from '../queue/batcher.ts';
import { type Delivered, deliveryQueue } from '../store/delivery-queue.ts';
import { type EndpointRow, endpointsByIds } from '../store/endpoints.ts';
import type { MessageRow } from '../store/messages.ts';
import { tenantsByIds } from '../store/tenants.ts';
import { type Dispatcher, startClaimer } from './claimer.ts';
import { deliver, type RecordDelivered, type Target, untilSent } from './deliver.ts';

export function startDispatcher(
  ctx: Needs<
    'boss' | 'config' | 'deliveryOutbound' | 'log' | 'metrics' | 'notifications' | 'pool' | 'secrets'
  >,
): Dispatcher {
  const batcher = createBatcher<Delivered, boolean>(
    async (items) => {
      // The next messages of ordering keys these deliveries release are leased to this dispatcher (a hand-over).
      const handoff = dispatcher.handoff();
      const { recorded, released } = await deliveryQueue.settle(ctx.pool, items, handoff.leaseMs);
      handoff.adopt(released);
      return items.map((item) => recorded.has(item.attempt.message_id));
    },
    { maxBatch: 200, maxConcurrent: 2 },
  );
  const record: RecordDelivered = (delivered) => batcher.add(delivered);
  // A record that touches an endpoint's row (a failure streak, a success after one) locks the row until it
  // commits. The attempts of a hung receiver time out together: recorded side by side, each would hold a pool
  // connection while it waits for the one before, and every other receiver's records would wait for a
  // connection (the backlog bench's healthy p99 doubled). One at a time per endpoint, the rest wait here.
  const endpointRecords = oneByOne();
  const dispatcher = startClaimer(ctx, (batch) => {
    const targets = targetsOf(ctx, batch);
    // Awaited by each message's attempt; one released unsent at shutdown must not leave it unhandled.
    targets.catch(() => undefined);
    return async (message, signal, answered) =>
      deliver(
        ctx,
        message,
        (await untilSent(ctx, message, targets)).get(message.id),
        record,
        endpointRecords,
        signal,
        answered,
      );
  });
  return dispatcher;
}

/**
 * Where and how to send each message of a batch: its endpoint as it is now (URL, secrets, headers), or the
 * job's callbackUrl signed with the tenant's secret. One query each for the batch's endpoints and tenants.
 */
async function targetsOf(ctx: Needs<'pool' | 'secrets'>, batch: MessageRow[]): Promise<Map<string, Target>> {
  const endpointIds = [...new Set(batch.flatMap((m) => (m.endpoint_id ? [m.endpoint_id] : [])))];
  const tenantIds = [...new Set(batch.flatMap((m) => (m.endpoint_id ? [] : [m.tenant_id])))];
  const [endpoints, tenants] = await Promise.all([
    endpointIds.length > 0 ? endpointsByIds(ctx.pool, endpointIds) : new Map<string, EndpointRow>(),
    tenantIds.length > 0 ? tenantsByIds(ctx.pool, tenantIds) : new Map(),
  ]);
  return new Map(
    batch.map((message): [string, Target] => {
      if (message.endpoint_id === null) {
        const tenant = tenants.get(message.tenant_id);
        const secrets = tenant ? [ctx.secrets.open(tenant.signing_secret, owners.tenant(tenant.id))] : [];
        return [message.id, { url: message.url, secrets, headers: {} }];
      }
      const endpoint = endpoints.get(message.endpoint_id);
      if (!endpoint) return [message.id, { deadReason: 'endpoint_deleted' }];
      if (endpoint.disabled) return [message.id, { deadReason: 'endpoint_disabled' }];
      const rotating =
        endpoint.previous_secret &&
        endpoint.previous_secret_expires_at &&
        endpoint.previous_secret_expires_at > new Date();
      const secrets = (
        rotating && endpoint.previous_secret ? [endpoint.secret, endpoint.previous_secret] : [endpoint.secret]
      ).map((stored) => ctx.secrets.open(stored, owners.endpoint(endpoint.id)));
      return [message.id, { url: endpoint.url, secrets, headers: endpoint.headers, endpoint }];
    }),
  );
}
