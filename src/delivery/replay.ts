// Replaying dead letters: the original message goes out again (same webhook-id, fresh schedule), and the dead
// letter stays, marked with when and by whom it was replayed.
import type { AppContext } from '../context.ts';
import { type DeadLetterFilter, lockReplayBatch, markReplayed } from '../store/messages.ts';
import { withTransaction } from '../store/transaction.ts';
import { resendMessages } from './resend.ts';

/** Rows per transaction: large enough to be quick, small enough that no lock or statement grows with the total. */
const BATCH = 500;

/** Replays every matching dead letter not replayed yet, a batch per transaction; returns how many. */
export async function replayMatching(
  ctx: AppContext,
  tenantId: string,
  filter: DeadLetterFilter,
  by: string,
): Promise<number> {
  let replayed = 0;
  for (;;) {
    const count = await withTransaction(ctx.pool, async (tx) => {
      const batch = await lockReplayBatch(tx, tenantId, filter, BATCH);
      if (batch.length === 0) return 0;
      await resendMessages(
        tx,
        batch.map((letter) => letter.message_id),
      );
      await markReplayed(
        tx,
        batch.map((letter) => letter.id),
        by,
      );
      return batch.length;
    });
    replayed += count;
    if (count < BATCH) return replayed;
  }
}
