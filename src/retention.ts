// Keeps the database from growing without bound: a pg-boss schedule runs the cleanup on one worker at a time.
import type { AppContext } from './context.ts';
import { deleteOldWork } from './store/retention.ts';

export const RETENTION_QUEUE = 'hookrelay-retention';
const EVERY_15_MINUTES = '*/15 * * * *';

export async function runRetention(ctx: AppContext, now: Date = new Date()) {
  const deleted = await deleteOldWork(
    ctx.pool,
    new Date(now.getTime() - ctx.config.retentionDays * 86_400_000),
  );
  ctx.log.info({ deleted, retentionDays: ctx.config.retentionDays }, 'retention cleanup done');
  return deleted;
}

export async function scheduleRetention(ctx: AppContext): Promise<void> {
  await ctx.boss.createQueue(RETENTION_QUEUE);
  await ctx.boss.schedule(RETENTION_QUEUE, EVERY_15_MINUTES);
  await ctx.boss.work(RETENTION_QUEUE, async () => {
    await runRetention(ctx);
  });
}
