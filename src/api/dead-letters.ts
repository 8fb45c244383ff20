// What the API does with dead letters, apart from HTTP: list and filter them (a tenant's, or every tenant's for
// the operator), show one, replay one or every one matching a filter, count what a replay would send, discard.
// A replay restarts the original message (same webhook-id, fresh schedule) and marks the dead letter, which stays.
import type { Needs } from '../context.ts';
import { replayMatching } from '../delivery/replay.ts';
import { resendMessages } from '../delivery/resend.ts';
import { DeadLetterNotFound, DeadLetterReplayed } from '../errors.ts';
import {
  countReplayable,
  type DeadLetterFilter,
  discardDeadLetter,
  getDeadLetter,
  listDeadLetters,
  lockDeadLetter,
  markReplayed,
} from '../store/dead-letters.ts';
import { withTransaction } from '../store/transaction.ts';
import { type DeadLetterView, viewDeadLetter } from './delivery-views.ts';

/** A tenant's, one page, newest first: `limit` of them (ask for one more to learn whether a next page exists). */
export async function list(
  ctx: Needs<'pool'>,
  tenantId: string,
  filter: DeadLetterFilter & { before?: string; limit: number },
): Promise<DeadLetterView[]> {
  return (await listDeadLetters(ctx.pool, tenantId, filter)).map(viewDeadLetter);
}

/** Every tenant's, or one's, for the operator: each with its tenant's id. */
export async function listForOperator(
  ctx: Needs<'pool'>,
  tenantId: string | null,
  filter: DeadLetterFilter & { before?: string; limit: number },
): Promise<Array<DeadLetterView & { tenantId: string }>> {
  const rows = await listDeadLetters(ctx.pool, tenantId, filter);
  return rows.map((row) => ({ ...viewDeadLetter(row), tenantId: row.tenant_id }));
}

export async function show(ctx: Needs<'pool'>, tenantId: string, id: string): Promise<DeadLetterView> {
  const row = await getDeadLetter(ctx.pool, tenantId, id);
  if (!row) throw new DeadLetterNotFound(id);
  return viewDeadLetter(row);
}

/** Replays one dead letter for the key `by`; returns the restarted message's id. */
export async function replay(ctx: Needs<'pool'>, tenantId: string, id: string, by: string): Promise<string> {
  return withTransaction(ctx.pool, async (tx) => {
    const letter = await lockDeadLetter(tx, tenantId, id);
    if (!letter) throw new DeadLetterNotFound(id);
    // A repeated click or script must not send the message twice (nor dead-letter it twice).
    if (letter.replayed_at) throw new DeadLetterReplayed(letter.replayed_at, letter.message_id);
    await resendMessages(tx, [letter.message_id]);
    await markReplayed(tx, [letter.id], by);
    return letter.message_id;
  });
}

/** Replays the dead letters not replayed yet that match, oldest first, at most `limit`; returns how many. */
export function replayAll(
  ctx: Needs<'pool'>,
  tenantId: string,
  filter: DeadLetterFilter,
  by: string,
  limit?: number,
): Promise<number> {
  return replayMatching(ctx, tenantId, filter, by, limit);
}

/** How many a replay of the filter would send now. */
export function countReplayAll(
  ctx: Needs<'pool'>,
  tenantId: string,
  filter: DeadLetterFilter,
): Promise<number> {
  return countReplayable(ctx.pool, tenantId, filter);
}

export async function discard(ctx: Needs<'pool'>, tenantId: string, id: string): Promise<void> {
  if (!(await discardDeadLetter(ctx.pool, tenantId, id))) throw new DeadLetterNotFound(id);
}
