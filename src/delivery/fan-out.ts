// Turns an event into messages, one per destination, written with their queue entries in the caller's
// transaction (the job's end, an endpoint test, a dead-letter alert).
import type { AppContext } from '../context.ts';
import { newId } from '../ids.ts';
import { enqueueDeliveries, newEntryId, receiverOf } from '../queue/delivery-queue.ts';
import { type EndpointRow, subscribedEndpoints } from '../store/endpoints.ts';
import { insertMessages, type NewMessage } from '../store/messages.ts';
import type { Tx } from '../store/transaction.ts';
import { JOB_EVENTS } from './events.ts';

export interface WebhookEvent {
  tenantId: string;
  jobId: string | null;
  type: string;
  data: unknown;
}

/** Where an event goes: a job's callbackUrl, one named endpoint, or every subscribed endpoint (fan-out). */
export type Destinations =
  | { kind: 'callback'; url: string }
  | { kind: 'endpoint'; endpoint: Pick<EndpointRow, 'id' | 'url'> }
  | { kind: 'subscribers' };

/** Expiry of a delivery entry: an attempt's timeout plus room for the recording transaction. */
export function deliveryExpirySeconds(ctx: AppContext): number {
  return Math.ceil(ctx.config.deliveryTimeoutMs / 1000) + 60;
}

export async function fanOut(
  ctx: AppContext,
  tx: Tx,
  event: WebhookEvent,
  to: Destinations,
): Promise<string[]> {
  const targets: Array<{ endpointId: string | null; url: string }> =
    to.kind === 'callback'
      ? [{ endpointId: null, url: to.url }]
      : to.kind === 'endpoint'
        ? [{ endpointId: to.endpoint.id, url: to.endpoint.url }]
        : (await subscribedEndpoints(tx, event.tenantId, event.type, JOB_EVENTS)).map((e) => ({
            endpointId: e.id,
            url: e.url,
          }));
  const payload = { type: event.type, timestamp: new Date().toISOString(), data: event.data };
  const messages: NewMessage[] = targets.map((target) => ({
    id: newId('msg'),
    tenantId: event.tenantId,
    jobId: event.jobId,
    endpointId: target.endpointId,
    url: target.url,
    eventType: event.type,
    payload,
    queueEntryId: newEntryId(),
  }));
  await insertMessages(tx, messages);
  await enqueueDeliveries(
    ctx.boss,
    tx,
    messages.map((m) => ({
      messageId: m.id,
      entryId: m.queueEntryId,
      receiver: receiverOf({ endpoint_id: m.endpointId, url: m.url }),
    })),
    deliveryExpirySeconds(ctx),
  );
  return messages.map((m) => m.id);
}
