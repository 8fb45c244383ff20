// Turns an event into messages, one per destination, written in the caller's transaction (the job's end, an
// endpoint test, a dead-letter alert); a pending message is its own queue entry, so nothing else is needed.
import { randomUUID } from 'node:crypto';
import { JOB_EVENTS } from '../event-types.ts';
import { newId } from '../ids.ts';
import { type EndpointRow, subscribedEndpoints } from '../store/endpoints.ts';
import { insertMessages, type MessageRow, type NewMessage } from '../store/messages.ts';
import type { Tx } from '../store/transaction.ts';
import type { Handoff } from './claimer.ts';
import type { ReceiverSettings } from './receiver-limits.ts';

export interface WebhookEvent {
  tenantId: string;
  jobId: string | null;
  type: string;
  data: unknown;
  /** A job's ordering key: its messages reach each receiver one at a time, in order (migration 0014). */
  orderingKey?: string | null;
}

/** Where an event goes: a job's callbackUrl, one named endpoint, or every subscribed endpoint (fan-out). */
export type Destinations =
  | { kind: 'callback'; url: string }
  | {
      kind: 'endpoint';
      endpoint: Pick<EndpointRow, 'id' | 'url'> &
        Partial<Pick<EndpointRow, 'max_concurrency' | 'adaptive_concurrency'>>;
    }
  | { kind: 'subscribers' };

/** Who receives a message, for per-receiver concurrency: its endpoint, or the origin of its callback URL. */
function receiverOf(endpointId: string | null, url: string): string {
  if (endpointId) return endpointId;
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/** An endpoint row's concurrency settings, when the row was read in full. */
function settingsOf(
  endpoint: Partial<Pick<EndpointRow, 'max_concurrency' | 'adaptive_concurrency'>> | undefined,
): ReceiverSettings | undefined {
  if (endpoint?.adaptive_concurrency === undefined) return undefined;
  return { maxConcurrency: endpoint.max_concurrency ?? null, adaptive: endpoint.adaptive_concurrency };
}

export async function fanOut(tx: Tx, event: WebhookEvent, to: Destinations): Promise<string[]> {
  return (await fanOutMany(tx, [{ event, to }])).ids;
}

/**
 * Many events' messages with one insert (a batch of jobs ending); subscribers looked up once per tenant and
 * type. With a hand-off, the messages its dispatcher takes are written leased to it and returned as `leased`.
 */
export async function fanOutMany(
  tx: Tx,
  events: Array<{ event: WebhookEvent; to: Destinations }>,
  handoff?: Handoff,
): Promise<{ ids: string[]; leased: MessageRow[] }> {
  const subscribers = new Map<string, Promise<EndpointRow[]>>();
  const subscribersOf = (event: WebhookEvent) => {
    const key = `${event.tenantId}\n${event.type}`;
    let found = subscribers.get(key);
    if (!found) {
      found = subscribedEndpoints(tx, event.tenantId, event.type, JOB_EVENTS);
      subscribers.set(key, found);
    }
    return found;
  };
  const messages: NewMessage[] = [];
  for (const { event, to } of events) {
    const targets: Array<{
      endpointId: string | null;
      url: string;
      endpoint?: Partial<Pick<EndpointRow, 'max_concurrency' | 'adaptive_concurrency'>>;
    }> =
      to.kind === 'callback'
        ? [{ endpointId: null, url: to.url }]
        : to.kind === 'endpoint'
          ? [{ endpointId: to.endpoint.id, url: to.endpoint.url, endpoint: to.endpoint }]
          : (await subscribersOf(event)).map((e) => ({ endpointId: e.id, url: e.url, endpoint: e }));
    const payload = { type: event.type, timestamp: new Date().toISOString(), data: event.data };
    for (const target of targets) {
      const receiver = receiverOf(target.endpointId, target.url);
      messages.push({
        id: newId('msg'),
        tenantId: event.tenantId,
        jobId: event.jobId,
        endpointId: target.endpointId,
        url: target.url,
        eventType: event.type,
        payload,
        receiver,
        orderingKey: event.orderingKey ?? null,
        // A keyed message that has to wait for the one before it is written unleased by migration 0014's
        // trigger, and not returned: its slot goes back when the hand-over is adopted.
        ...(handoff?.reserve(receiver, settingsOf(target.endpoint)) && { leaseId: randomUUID() }),
      });
    }
  }
  const leased = await insertMessages(tx, messages, handoff?.leaseMs ?? 0);
  return { ids: messages.map((m) => m.id), leased };
}
