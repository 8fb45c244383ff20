// Sending messages again (resend, dead-letter replay): same message id, so the same webhook-id; fresh schedule.
import type { AppContext } from '../context.ts';
import { enqueueDeliveries, newEntryId } from '../queue/delivery-queue.ts';
import { restartMessages } from '../store/messages.ts';
import type { Tx } from '../store/transaction.ts';
import { deliveryExpirySeconds } from './fan-out.ts';

/** Restarts the messages and enqueues their first new attempt, in the caller's transaction. */
export async function resendMessages(ctx: AppContext, tx: Tx, messageIds: string[]): Promise<void> {
  const restarts = messageIds.map((id) => ({ id, entryId: newEntryId() }));
  await restartMessages(tx, restarts);
  await enqueueDeliveries(
    ctx.boss,
    tx,
    restarts.map((r) => ({ messageId: r.id, entryId: r.entryId })),
    deliveryExpirySeconds(ctx),
  );
}
