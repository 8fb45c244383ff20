// Waits for a job to reach a state, woken by change notifications rather than polling the database.

import type { Needs } from '../context.ts';
import { getJob, type JobRow } from '../store/jobs.ts';
import { deadline } from '../timeout.ts';

/**
 * Resolves with the job once `done(job)` holds, or with its latest state when `timeoutMs` passes or the
 * HTTP server starts draining (shutdown). Subscribes before the first read, so no change can fall in between.
 */
export async function waitForJob(
  ctx: Needs<'notifications' | 'pool'>,
  tenantId: string,
  id: string,
  done: (job: JobRow) => boolean,
  timeoutMs: number,
  draining: AbortSignal,
): Promise<JobRow | undefined> {
  let wake: () => void = () => {};
  let changed = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const unsubscribe = ctx.notifications.onJobChange(id, () => wake());
  const limit = deadline(timeoutMs);
  const stop = AbortSignal.any([limit.signal, draining, ctx.notifications.closing]);
  const stopped = new Promise<void>((resolve) =>
    stop.addEventListener('abort', () => resolve(), { once: true }),
  );
  try {
    for (;;) {
      const job = await getJob(ctx.pool, tenantId, id);
      if (!job || done(job) || stop.aborted) return job;
      await Promise.race([changed, stopped]);
      changed = new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    limit.clear();
    unsubscribe();
  }
}
