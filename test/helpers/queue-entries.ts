// Entries of the two queues written straight through the store, for tests of the queue's SQL: a due `echo` job
// and a due, unleased callback message, either with an ordering key.
import { newId } from '../../src/ids.ts';
import type { Delivered } from '../../src/store/delivery-queue.ts';
import type { NewJob } from '../../src/store/jobs.ts';
import { insertMessages, type NewMessage } from '../../src/store/messages.ts';
import type { Queryable } from '../../src/store/pool.ts';

/** A job as insertJob(s) takes it: due now, an echo of 1, with `orderingKey` if given. */
export const jobSpec = (tenantId: string, orderingKey: string | null = null): NewJob => ({
  id: newId('job'),
  tenantId,
  type: 'echo',
  input: 1,
  callbackUrl: null,
  endpointId: null,
  timeoutSeconds: 60,
  maxAttempts: 3,
  priority: 0,
  runAt: null,
  metadata: {},
  execution: 'builtin',
  heartbeatSeconds: null,
  scheduleId: null,
  orderingKey,
});

/** A callback message to `receiver` as insertMessages takes it (due, unleased), with `orderingKey` if given. */
export const messageSpec = (
  tenantId: string,
  receiver: string,
  orderingKey: string | null = null,
): NewMessage => ({
  id: newId('msg'),
  tenantId,
  jobId: null,
  endpointId: null,
  url: `${receiver}/hook`,
  eventType: 'job.succeeded',
  payload: {},
  orderingKey,
  receiver,
});

/** Writes a callback message to `receiver` (due, unleased, or waiting behind its key's head); its id. */
export async function addMessage(
  db: Queryable,
  tenantId: string,
  receiver: string,
  orderingKey: string | null = null,
): Promise<string> {
  const message = messageSpec(tenantId, receiver, orderingKey);
  await insertMessages(db, [message], 0);
  return message.id;
}

/** A 200 answered to the attempt holding `leaseId`, as the dispatcher hands it to recordDelivered. */
export const delivered = (messageId: string, leaseId: string, keyed = false): Delivered => ({
  leaseId,
  keyed,
  attempt: {
    id: newId('att'),
    message_id: messageId,
    attempted_at: new Date(),
    duration_ms: 1,
    response_status: 200,
    response_body: '',
    error: null,
  },
});
