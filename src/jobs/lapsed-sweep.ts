// Remote attempts are counted when their lease lapses by the next claim for their type (remote.ts). A type no
// worker claims any more would leave such a job `running` for ever; a sweep each minute (a pg-boss schedule, on
// one worker process at a time) counts those attempts too: retried with backoff, or the job failed after its last.
// It also fails the queued jobs of a remote type that is gone: a process that had not yet heard of the deletion
// (or of a change to push) may have accepted them, and nothing would ever claim them.
import type { Needs } from '../context.ts';
import { lockLapsedRemote, lockQueuedRemote, orphanedRemoteTypes, revokeLease } from '../store/task-queue.ts';
import { withTransaction } from '../store/transaction.ts';
import { endJob } from './lifecycle.ts';
import { applyOutcome, lapsed } from './outcome.ts';

const SWEEP_QUEUE = 'hookrelay-remote-lease-sweep';
const BATCH = 100;

/** Counts every lapsed remote attempt now, a batch per transaction; returns how many. */
export async function sweepLapsed(ctx: Needs<'config' | 'metrics' | 'pool'>): Promise<number> {
  let swept = 0;
  for (;;) {
    const count = await withTransaction(ctx.pool, async (tx) => {
      const rows = await lockLapsedRemote(tx, BATCH);
      for (const row of rows) {
        const revoked = await revokeLease(tx, row.id);
        if (revoked) await applyOutcome(ctx, tx, revoked, lapsed(row, row.next_attempt_at));
      }
      return rows.length;
    });
    swept += count;
    if (count < BATCH) return swept;
  }
}

/** Fails the queued jobs of remote types that no longer exist as such; returns how many. */
export async function failOrphaned(ctx: Needs<'metrics' | 'pool'>): Promise<number> {
  let failed = 0;
  for (const pair of await orphanedRemoteTypes(ctx.pool)) {
    for (;;) {
      const count = await withTransaction(ctx.pool, async (tx) => {
        const rows = await lockQueuedRemote(tx, { tenantId: pair.tenant_id, type: pair.type }, BATCH);
        for (const row of rows) {
          await endJob(ctx, tx, row, {
            status: 'failed',
            error: `"${row.type}" is no longer a remote job type of this tenant: no worker can claim the job`,
          });
        }
        return rows.length;
      });
      failed += count;
      if (count < BATCH) break;
    }
  }
  return failed;
}

export async function scheduleLapsedSweep(
  ctx: Needs<'boss' | 'config' | 'log' | 'metrics' | 'pool'>,
): Promise<void> {
  await ctx.boss.createQueue(SWEEP_QUEUE);
  await ctx.boss.schedule(SWEEP_QUEUE, '* * * * *');
  await ctx.boss.work(SWEEP_QUEUE, async () => {
    const swept = await sweepLapsed(ctx);
    if (swept > 0) ctx.log.info({ swept }, 'counted remote attempts whose lease lapsed');
    const orphaned = await failOrphaned(ctx);
    if (orphaned > 0) ctx.log.warn({ failed: orphaned }, 'failed queued jobs of remote types that are gone');
  });
}
