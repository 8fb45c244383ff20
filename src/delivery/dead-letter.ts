// Moving a message to the dead letters: it stops being retried and waits for an operator.
import { newId } from '../ids.ts';
import {
  type DeadLetterReason,
  insertDeadLetter,
  type MessageRow,
  updateMessage,
} from '../store/messages.ts';
import type { Tx } from '../store/transaction.ts';

/** Marks the message dead and records its dead letter, in the caller's transaction. */
export async function deadLetter(tx: Tx, message: MessageRow, reason: DeadLetterReason) {
  const dead = await updateMessage(tx, message.id, {
    status: 'dead',
    attemptsDelta: 0,
    lastError: message.last_error,
    lastResponseStatus: message.last_response_status,
    nextAttemptAt: null,
  });
  return insertDeadLetter(tx, { id: newId('dl'), message: dead, reason });
}
