// Keeps the database from growing without bound: a pg-boss schedule runs the cleanup on one worker at a time.
import type { AppContext } from './context.ts';
import { deleteOldWork } from './store/retention.ts';

export const RETENTION_QUEUE = 'hookrelay-retention';

export async function runRetention(ctx: AppContext, now: Date = new Date()) {
  const deleted = await deleteOldWork(ctx.pool, new Date(now.getTime() - ctx.config.retentionMs));
  ctx.log.info({ deleted, retentionMs: ctx.config.retentionMs }, 'retention cleanup done');
  return deleted;
}

export async function scheduleRetention(ctx: AppContext): Promise<void> {
  await ctx.boss.createQueue(RETENTION_QUEUE);
  await ctx.boss.schedule(RETENTION_QUEUE, `*/${ctx.config.retentionSweepMinutes} * * * *`);
  await ctx.boss.work(RETENTION_QUEUE, async () => {
    await runRetention(ctx);
  });
}
