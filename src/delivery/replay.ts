// Replaying dead letters: the original message goes out again (same webhook-id, fresh schedule), and the dead
// letter stays, marked with when and by whom it was replayed.
import type { Needs } from '../context.ts';
import { type DeadLetterFilter, lockReplayBatch, markReplayed } from '../store/dead-letters.ts';
import { withTransaction } from '../store/transaction.ts';
import { resendMessages } from './resend.ts';

/** Rows per transaction: large enough to be quick, small enough that no lock or statement grows with the total. */
const BATCH = 500;

/**
 * Replays the matching dead letters not replayed yet, oldest first, a batch per transaction: all of them, or at
 * most `limit` (so a client can replay a large set in steps and show its progress). Returns how many.
 */
export async function replayMatching(
  ctx: Needs<'pool'>,
  tenantId: string,
  filter: DeadLetterFilter,
  by: string,
  limit = Number.POSITIVE_INFINITY,
): Promise<number> {
  let replayed = 0;
  for (;;) {
    const size = Math.min(BATCH, limit - replayed);
    const count = await withTransaction(ctx.pool, async (tx) => {
      const batch = await lockReplayBatch(tx, tenantId, filter, size);
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
    if (count < size || replayed >= limit) return replayed;
  }
}
