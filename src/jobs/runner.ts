// Runs job attempts from the jobs table, which is their queue (migrations/0005_job_queue.sql): claims due jobs
// up to WORKER_CONCURRENCY (the claim loop), keeps their leases, and runs each attempt (attempt.ts). The common
// cases, a queued job starting and a job succeeding, are written for many jobs per statement (the claim, and
// the group commit of successes here); every other case (cancel requests, retries, failures, an attempt whose
// worker died) takes its own transaction.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Needs } from '../context.ts';
import type { Dispatcher } from '../delivery/claimer.ts';
import { isDatabaseUnavailable } from '../errors.ts';
import { createBatcher } from '../queue/batcher.ts';
import { startClaimLoop } from '../queue/claim-loop.ts';
import { keepLeases, type LeaseLost } from '../queue/lease-keeper.ts';
import { type ClaimedJob, cancelRequestedAmong, jobQueue } from '../store/job-queue.ts';
import type { MessageRow } from '../store/messages.ts';
import { withTransaction } from '../store/transaction.ts';
import { type Attempt, Cancelled, type Runner, runAttempt, type Success } from './attempt.ts';
import { announceEnds } from './lifecycle.ts';

/** The most jobs one claim takes (their ids share one change notification, which must stay under 8000 bytes). */
const CLAIM_BATCH = 100;

/**
 * A NOTIFY wakes workers for jobs due now; a retry's backoff or a runAt gets none when it falls due, nor does an
 * attempt whose worker died. The backstop poll bounds those delays.
 */
const POLL_MS = 1_000;

export interface JobRunner {
  /**
   * Stops claiming, gives the attempts running until `until` (ms since the epoch) to end, then interrupts the
   * rest: they are put back for another worker, the attempt given back.
   */
  stop(until: number): Promise<void>;
}

/** `dispatcher`: this process's, when it delivers too, to hand finished jobs' messages to. */
export function startJobRunner(
  ctx: Needs<
    | 'config'
    | 'deliveryOutbound'
    | 'jobTypes'
    | 'log'
    | 'metrics'
    | 'notifications'
    | 'outbound'
    | 'pool'
    | 'secrets'
    | 'tenantTypes'
  >,
  dispatcher?: Pick<Dispatcher, 'handoff'>,
): JobRunner {
  const { notifications } = ctx;
  const capacity = ctx.config.workerConcurrency;
  const leaseMs = ctx.config.jobHeartbeatMs;
  /** The attempts held here, by job id, from their claim until their outcome is recorded. */
  const attempts = new Map<string, Attempt>();
  /**
   * Worker slots taken: an attempt keeps its slot until its outcome is recorded and its handler has returned
   * (a handler that ignores its abort keeps running, and must not run beside WORKER_CONCURRENCY others).
   */
  let occupied = 0;
  const leases = keepLeases({
    pool: ctx.pool,
    queue: jobQueue,
    leaseMs,
    log: ctx.log,
    metrics: ctx.metrics,
  });
  const shutdown = new AbortController();
  /** Cancel requests for jobs not (yet) held here, heard while a claim was in flight: it may return them. */
  const cancelledWhileClaiming = new Set<string>();

  const warn = (error: unknown, msg: string) =>
    isDatabaseUnavailable(error) ? ctx.log.warn({ err: error }, msg) : ctx.log.error({ err: error }, msg);

  const unsubscribeCancel = notifications.onCancelRequest((jobId) => {
    if (jobId !== undefined) {
      const attempt = attempts.get(jobId);
      if (attempt) attempt.controller.abort(new Cancelled());
      else if (loop.claiming) cancelledWhileClaiming.add(jobId);
      return;
    }
    if (attempts.size === 0) return;
    cancelRequestedAmong(ctx.pool, [...attempts.keys()]).then(
      (ids) => {
        for (const id of ids) attempts.get(id)?.controller.abort(new Cancelled());
      },
      (error: unknown) => ctx.log.warn({ err: error }, 'cannot check for missed cancellations'),
    );
  });

  // Successes end by group commit: those that finish while one commit runs share the next. Their messages go
  // straight to this process's dispatcher when it has room (written leased to it, handed over after the
  // commit), instead of waiting for a NOTIFY and a claim.
  const succeeded = createBatcher<Success, boolean>(
    async (items) => {
      const handoff = dispatcher?.handoff();
      let leased: MessageRow[] = [];
      try {
        const results = await withTransaction(ctx.pool, async (tx) => {
          const finished = await jobQueue.settle(
            tx,
            items.map((item) => ({ id: item.jobId, leaseId: item.leaseId, result: item.result })),
            leaseMs,
          );
          leased = await announceEnds(ctx, tx, finished, handoff);
          const ended = new Set(finished.map((row) => row.id));
          return items.map((item) => ended.has(item.jobId));
        });
        handoff?.adopt(leased);
        return results;
      } catch (error) {
        handoff?.cancel();
        throw error;
      }
    },
    { maxBatch: 200, maxConcurrent: 2 },
  );
  const runner: Runner = { shutdown: shutdown.signal, succeeded: (success) => succeeded.add(success) };

  /** Takes up to `limit` due jobs and starts them; true if it came back full. */
  async function claim(limit: number): Promise<boolean> {
    const since = Date.now();
    const tenantMaxRunning = ctx.config.tenantMaxRunningJobs;
    try {
      const rows =
        tenantMaxRunning === undefined
          ? await jobQueue.claim(ctx.pool, { limit, leaseMs })
          : await withTransaction(ctx.pool, (tx) => jobQueue.claim(tx, { limit, leaseMs, tenantMaxRunning }));
      for (const row of rows)
        leases.hold({ id: row.id, leaseId: row.lease_id, since }, lost(row.id, row.lease_id));
      for (const row of rows) start(row);
      return rows.length === limit;
    } finally {
      cancelledWhileClaiming.clear();
    }
  }

  /** Aborts the attempt whose lease was lost (it may be taken already by another worker). */
  const lost = (jobId: string, leaseId: string) => (reason: LeaseLost) => {
    const attempt = attempts.get(jobId);
    if (attempt?.leaseId === leaseId) attempt.controller.abort(reason);
  };

  function start(row: ClaimedJob): void {
    const controller = new AbortController();
    if (cancelledWhileClaiming.has(row.id)) controller.abort(new Cancelled());
    const attempt: Attempt = { controller, leaseId: row.lease_id };
    attempts.set(row.id, attempt);
    occupied += 1;
    attempt.done = runAttempt(ctx, runner, row, attempt)
      .catch((error: unknown) => warn(error, 'job attempt not recorded; it runs again when its lease ends'))
      .finally(() => {
        leases.release(row.lease_id);
        if (attempts.get(row.id) === attempt) attempts.delete(row.id);
      });
    // The slot is free once the outcome is recorded and the handler (if one ran) has returned.
    void attempt.done
      .then(() => attempt.handler)
      .finally(() => {
        occupied -= 1;
        // With a per-tenant cap, a claim may have left a capped tenant's jobs behind although it was not full:
        // a slot freed by that tenant's job is theirs to take now, not at the next poll.
        if (loop.backlogged || ctx.config.tenantMaxRunningJobs !== undefined) loop.wakeSoon();
      });
  }

  const loop = startClaimLoop({
    room: () => Math.min(capacity - occupied, CLAIM_BATCH),
    claim,
    listen: (wake) => notifications.onJobsDue(wake),
    pollMs: POLL_MS,
    onError: (error) => warn(error, 'cannot claim jobs; trying again shortly'),
  });

  return {
    async stop(until) {
      await loop.stop();
      const running = () => Promise.allSettled([...attempts.values()].map((attempt) => attempt.done));
      const waited = new AbortController();
      await Promise.race([
        running(),
        sleep(Math.max(0, until - Date.now()), undefined, { signal: waited.signal }).catch(() => undefined),
      ]);
      waited.abort();
      shutdown.abort();
      await running();
      leases.stop();
      unsubscribeCancel();
    },
  };
}
