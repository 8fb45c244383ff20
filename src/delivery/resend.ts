// Sending messages again (resend, dead-letter replay): same message id, so the same webhook-id; fresh schedule.
import { restartMessages } from '../store/messages.ts';
import type { Tx } from '../store/transaction.ts';

/** Restarts the messages, due now, in the caller's transaction. */
export async function resendMessages(tx: Tx, messageIds: string[]): Promise<void> {
  // A message dead-lettered twice appears twice in a bulk replay: restart it once.
  await restartMessages(tx, [...new Set(messageIds)]);
}
