// The claim loop: asks hookrelay for as many jobs as there are free slots, a long poll held open while none is
// due, and starts a task for each. Failures it can outlive (no answer, 5xx, 429) are waited out with backoff;
// a refusal that retrying cannot change (a wrong key, a type that is not the tenant's) ends it.
import { setTimeout as sleep } from 'node:timers/promises';
import { retryDelayMs } from '../jobs/backoff.ts';
import type { Http } from './http.ts';
import type { Claimed } from './task.ts';
import type { Log } from './types.ts';

/** Why the worker stopped by itself: hookrelay refused its claims (401, 403, 422, …). */
export class WorkerRefusedError extends Error {
  override name = 'WorkerRefusedError';
  readonly status: number;
  readonly title: string;

  constructor(status: number, title: string, detail?: string) {
    super(`hookrelay refused the claim: ${status} ${title}${detail ? ` (${detail})` : ''}`);
    this.status = status;
    this.title = title;
  }
}

export interface ClaimLoopOptions {
  http: Http;
  log: Log;
  types: string[];
  concurrency: number;
  waitSeconds: number;
  /** Starts a claimed attempt; resolves once its slot is free again. */
  start(claimed: Claimed, serverNow: number | undefined): Promise<void>;
  /** Aborted by `stop()`: nothing more is claimed, and a poll still waiting for its answer is abandoned. */
  stopping: AbortSignal;
}

/** The most one claim may ask for (the contract's `max`). */
const MAX_PER_CLAIM = 100;
/**
 * Claims that come back empty are not repeated sooner than this: with `waitSeconds: 0` it is the polling
 * interval, and a server answering long polls at once (a proxy cutting them) is not asked in a tight loop.
 */
const MIN_CLAIM_GAP_MS = 1_000;
/**
 * After a claim that found jobs, the next one waits this long for more slots to free (less when all do): under a
 * backlog, each freed slot would otherwise cost a claim of its own, one job per round trip.
 */
const CLAIM_COOLDOWN_MS = 50;
/** Room beyond the long poll for the answer to arrive. */
const CLAIM_SLACK_MS = 30_000;

/** Resolves when the loop was stopped; rejects with a WorkerRefusedError when hookrelay refused it. */
export async function claimLoop(options: ClaimLoopOptions): Promise<void> {
  const { http, log, stopping } = options;
  const slots = new Set<Promise<void>>();
  const stopped = new Promise<void>((resolve) => stopping.addEventListener('abort', () => resolve()));
  let failures = 0;
  let coolUntil = 0;
  while (!stopping.aborted) {
    if (slots.size >= options.concurrency) {
      await Promise.race([...slots, stopped]);
      continue;
    }
    const cooling = coolUntil - Date.now();
    if (cooling > 0 && slots.size > 0) {
      await Promise.race([sleep(cooling), Promise.all(slots), stopped]);
      coolUntil = 0;
      continue;
    }
    const askedAt = Date.now();
    const reply = await http
      .post<{ data: Claimed[] }>(
        'v1/worker/claim',
        JSON.stringify({
          types: options.types,
          max: Math.min(MAX_PER_CLAIM, options.concurrency - slots.size),
          waitSeconds: options.waitSeconds,
        }),
        { auth: true, timeoutMs: options.waitSeconds * 1000 + CLAIM_SLACK_MS, abandon: stopping },
      )
      .catch(() => undefined);
    if (!reply) return; // abandoned by stop()
    if (reply.kind === 'ok' && Array.isArray(reply.body.data)) {
      failures = 0;
      if (reply.body.data.length > 0) coolUntil = Date.now() + CLAIM_COOLDOWN_MS;
      for (const claimed of reply.body.data) {
        const slot = options.start(claimed, reply.serverNow).finally(() => slots.delete(slot));
        slots.add(slot);
      }
      const early = MIN_CLAIM_GAP_MS - (Date.now() - askedAt);
      if (reply.body.data.length === 0 && early > 0)
        await sleep(early, undefined, { signal: stopping }).catch(() => {});
      continue;
    }
    if (reply.kind === 'refused' || reply.kind === 'ended')
      throw new WorkerRefusedError(
        reply.status,
        reply.title,
        reply.kind === 'refused' ? reply.detail : undefined,
      );
    failures++;
    const reason = reply.kind === 'ok' ? 'an answer without a data list' : reply.reason;
    const retryAfterMs = reply.kind === 'transient' ? (reply.retryAfterMs ?? 0) : 0;
    const waitMs = Math.max(retryDelayMs(failures, 500, 30_000), retryAfterMs);
    log('warn', 'claim failed; trying again', { reason, waitMs, failures });
    await sleep(waitMs, undefined, { signal: stopping }).catch(() => {});
  }
}
