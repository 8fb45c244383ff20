// Keeps the database from growing without bound: a pg-boss schedule runs the cleanup on one worker at a time.
import type { Needs } from './context.ts';
import { deleteOldWork } from './store/retention.ts';

export const RETENTION_QUEUE = 'hookrelay-retention';

/**
 * How long one sweep may go on starting batches: half its interval, so that sweeps do not overlap, and at most 10
 * minutes, inside the 15 minutes after which pg-boss takes a job for lost and runs it again. A backlog longer
 * than that (the first sweep over a year of rows) is worked off by the sweeps that follow, each from where the
 * previous one stopped.
 */
const MAX_SWEEP_MS = 10 * 60_000;

export async function runRetention(ctx: Needs<'config' | 'log' | 'pool'>, now: Date = new Date()) {
  // The slowest batch says whether batches stay short under this deployment's load (docs/scaling.md).
  let batches = 0;
  let slowestBatchMs = 0;
  const budgetMs = Math.min(MAX_SWEEP_MS, (ctx.config.retentionSweepMinutes * 60_000) / 2);
  const deleted = await deleteOldWork(ctx.pool, new Date(now.getTime() - ctx.config.retentionMs), {
    until: now.getTime() + budgetMs,
    onBatch(batch) {
      batches++;
      slowestBatchMs = Math.max(slowestBatchMs, Math.round(batch.ms));
    },
  });
  ctx.log.info(
    { deleted, batches, slowestBatchMs, retentionMs: ctx.config.retentionMs },
    'retention cleanup done',
  );
  return deleted;
}

export async function scheduleRetention(ctx: Needs<'boss' | 'config' | 'log' | 'pool'>): Promise<void> {
  await ctx.boss.createQueue(RETENTION_QUEUE);
  await ctx.boss.schedule(RETENTION_QUEUE, `*/${ctx.config.retentionSweepMinutes} * * * *`);
  await ctx.boss.work(RETENTION_QUEUE, async () => {
    await runRetention(ctx);
  });
}
