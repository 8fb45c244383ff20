// Sending messages again (resend, dead-letter replay): same message id, so the same webhook-id; fresh schedule.
import type { AppContext } from '../context.ts';
import { enqueueDeliveries, newEntryId, receiverOf } from '../queue/delivery-queue.ts';
import { restartMessages } from '../store/messages.ts';
import type { Tx } from '../store/transaction.ts';
import { deliveryExpirySeconds } from './fan-out.ts';

/** Restarts the messages and enqueues their first new attempt, in the caller's transaction. */
export async function resendMessages(ctx: AppContext, tx: Tx, messageIds: string[]): Promise<void> {
  // A message dead-lettered twice appears twice in a bulk replay: restart it once.
  const restarts = [...new Set(messageIds)].map((id) => ({ id, entryId: newEntryId() }));
  const restarted = await restartMessages(tx, restarts);
  await enqueueDeliveries(
    ctx.boss,
    tx,
    restarted.map((m) => ({ messageId: m.id, entryId: m.queue_entry_id, receiver: receiverOf(m) })),
    deliveryExpirySeconds(ctx),
  );
}
