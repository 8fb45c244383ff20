// What the API does with a tenant's messages, apart from HTTP: list them, show one or a job's with their
// attempts, send one again. Answers with the API's views (delivery-views.ts); refuses with domain errors.
import type { Needs } from '../context.ts';
import { resendMessages } from '../delivery/resend.ts';
import { JobNotFound, MessageNotFound } from '../errors.ts';
import { getJob } from '../store/jobs.ts';
import { attemptsOf, getMessage, listMessages, type MessageRow } from '../store/messages.ts';
import { withTransaction } from '../store/transaction.ts';
import { type MessageView, viewAttempt, viewMessage } from './delivery-views.ts';

/** The messages with their attempts (one query for all of them). */
async function withAttempts(ctx: Needs<'pool'>, rows: MessageRow[]) {
  const attempts = await attemptsOf(
    ctx.pool,
    rows.map((row) => row.id),
  );
  return rows.map((row) => ({
    ...viewMessage(row),
    attempts: attempts.filter((a) => a.message_id === row.id).map(viewAttempt),
  }));
}

async function existing(ctx: Needs<'pool'>, tenantId: string, id: string): Promise<MessageRow> {
  const row = await getMessage(ctx.pool, tenantId, id);
  if (!row) throw new MessageNotFound(id);
  return row;
}

/** One page, newest first: `limit` of them (ask for one more to learn whether a next page exists). */
export async function list(
  ctx: Needs<'pool'>,
  tenantId: string,
  filter: Parameters<typeof listMessages>[2],
): Promise<MessageView[]> {
  return (await listMessages(ctx.pool, tenantId, filter)).map(viewMessage);
}

export async function show(ctx: Needs<'pool'>, tenantId: string, id: string) {
  const [message] = await withAttempts(ctx, [await existing(ctx, tenantId, id)]);
  return message as NonNullable<typeof message>;
}

/** Sends the message again now: same webhook-id, a fresh attempt schedule. */
export async function resend(ctx: Needs<'pool'>, tenantId: string, id: string): Promise<string> {
  const row = await existing(ctx, tenantId, id);
  await withTransaction(ctx.pool, (tx) => resendMessages(tx, [row.id]));
  return row.id;
}

/** The messages sent for a job (at most 100), with their attempts. */
export async function ofJob(ctx: Needs<'pool'>, tenantId: string, jobId: string) {
  if (!(await getJob(ctx.pool, tenantId, jobId))) throw new JobNotFound(jobId);
  return withAttempts(ctx, await listMessages(ctx.pool, tenantId, { jobId, limit: 100 }));
}
