// Moving a message to the dead letters: it stops being retried, waits for an operator, and is announced to
// endpoints subscribed to message.dead_lettered (the alert).

import { viewDeadLetter } from '../api/delivery-views.ts';
import type { Needs } from '../context.ts';
import { OPERATIONAL_EVENTS } from '../event-types.ts';
import { newId } from '../ids.ts';
import { insertDeadLetter } from '../store/dead-letters.ts';
import { updateMessage } from '../store/delivery-queue.ts';
import type { DeadLetterReason, MessageRow } from '../store/messages.ts';
import type { Tx } from '../store/transaction.ts';
import { fanOut } from './fan-out.ts';

/** Marks the message dead, records its dead letter and raises the alert, in the caller's transaction. */
export async function deadLetter(
  ctx: Needs<'metrics'>,
  tx: Tx,
  message: MessageRow,
  reason: DeadLetterReason,
) {
  const dead = await updateMessage(tx, message.id, {
    status: 'dead',
    attemptsDelta: 0,
    lastError: message.last_error,
    lastResponseStatus: message.last_response_status,
    nextAttemptAt: null,
  });
  const letter = await insertDeadLetter(tx, { id: newId('dl'), message: dead, reason });
  ctx.metrics.deadLetters.inc({ reason });
  // An alert that itself dies raises no further alert: otherwise an alerting endpoint that is down would
  // feed itself a new message every time one of its own expired.
  if (!(OPERATIONAL_EVENTS as readonly string[]).includes(message.event_type)) {
    await fanOut(
      tx,
      {
        tenantId: message.tenant_id,
        jobId: message.job_id,
        type: 'message.dead_lettered',
        // The alert carries the dead letter as the API shows it (the contract's message.dead_lettered).
        data: viewDeadLetter(letter),
      },
      { kind: 'subscribers' },
    );
  }
  return letter;
}
