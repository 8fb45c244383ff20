// The concurrency limits of one dispatching process, one per receiver (concurrency.ts adapts each), and the
// budget they share with other processes through Postgres.
//
// About once a second the process writes each receiver's limit and attempts in flight to
// receiver_concurrency (one statement) and reads back what the other live processes use of the same receivers.
// An adaptive limit is then capped at maxConcurrency less the others' limits, so that their sum stays near
// maxConcurrency however many processes deliver (AIMD converges to fair shares: each process's cuts are
// proportional to its limit). A fixed limit is maxConcurrency split evenly among the processes delivering to
// the receiver. The sum lags the processes by up to a report: a process that starts may exceed the budget for
// a second. The endpoint view reads the same rows (store/receiver-concurrency.ts).
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Needs } from '../context.ts';
import { isDatabaseUnavailable } from '../errors.ts';
import {
  type OtherProcesses,
  reportConcurrency,
  withdrawConcurrency,
} from '../store/receiver-concurrency.ts';
import { AdaptiveLimit, type AttemptFeedback } from './concurrency.ts';

const REPORT_MS = 1_000;
const LAG_RESOLUTION_MS = 10;
/** A receiver's limit is forgotten after so long without an attempt (it starts low again). */
const IDLE_MS = 5 * 60_000;

/** What a receiver's endpoint says about its concurrency; null fields: the configured default. */
export interface ReceiverSettings {
  maxConcurrency: number | null;
  adaptive: boolean | null;
}

interface Entry {
  limit: AdaptiveLimit;
  /** A Retry-After holds attempts to it until then (ms since the epoch). */
  pausedUntil: number;
  max: number;
  adaptive: boolean;
  others: OtherProcesses | undefined;
  usedAt: number;
}

export interface ReceiverLimits {
  /** The receiver's limit here now. */
  limitOf(receiver: string): number;
  /** Attempts started here and not yet answered (or given up before sending). */
  inFlight(receiver: string): number;
  /** Learns a receiver's settings (from a claim, or an attempt's endpoint row). */
  learn(receiver: string, settings: ReceiverSettings): void;
  started(receiver: string): void;
  ended(receiver: string, feedback: AttemptFeedback | undefined): void;
  /** Until when a Retry-After holds the receiver's attempts, if it does now (ms since the epoch). */
  pausedUntil(receiver: string): number | undefined;
  stop(): Promise<void>;
}

export function receiverLimits(ctx: Needs<'config' | 'log' | 'metrics' | 'pool'>): ReceiverLimits {
  const processId = randomUUID();
  // The event loop's lag over the last report: how late this process reads answers when it is busy.
  const loop = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  loop.enable();
  let loopLagMs = 0;
  const entries = new Map<string, Entry>();
  const defaultMax = ctx.config.deliveryEndpointConcurrency;

  const capOf = (entry: Entry) => {
    const others = entry.others;
    if (!others) return entry.max;
    return entry.adaptive
      ? Math.max(1, entry.max - others.limits)
      : Math.max(1, Math.ceil(entry.max / (others.processes + 1)));
  };
  const configure = (entry: Entry) => entry.limit.configure({ cap: capOf(entry), adaptive: entry.adaptive });

  const entryOf = (receiver: string): Entry => {
    let entry = entries.get(receiver);
    if (!entry) {
      const settings = { cap: defaultMax, adaptive: true };
      entry = {
        limit: new AdaptiveLimit(settings, { loopLagMs: () => loopLagMs }),
        pausedUntil: 0,
        max: defaultMax,
        adaptive: true,
        others: undefined,
        usedAt: Date.now(),
      };
      entries.set(receiver, entry);
    }
    return entry;
  };

  async function report() {
    // The histogram's samples include the sampling interval itself.
    loopLagMs = Math.max(0, loop.mean / 1e6 - LAG_RESOLUTION_MS) || 0;
    loop.reset();
    const now = Date.now();
    for (const [receiver, entry] of entries)
      if (entry.limit.inFlight === 0 && now - entry.usedAt > IDLE_MS) entries.delete(receiver);
    const reported = [...entries].map(([receiver, entry]) => ({
      receiver,
      limit: entry.limit.limit,
      inFlight: entry.limit.inFlight,
    }));
    const others = await reportConcurrency(ctx.pool, processId, reported);
    let throttled = 0;
    for (const [receiver, entry] of entries) {
      entry.others = others.get(receiver);
      configure(entry);
      if (entry.adaptive && entry.limit.limit < capOf(entry)) throttled += 1;
    }
    ctx.metrics.receiversThrottled.set(throttled);
  }

  let reporting: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    reporting = report().catch((error: unknown) => {
      if (!isDatabaseUnavailable(error))
        ctx.log.warn({ err: error }, 'cannot report delivery concurrency; limits stay as they are');
    });
  }, REPORT_MS);
  timer.unref();

  return {
    limitOf: (receiver) => entryOf(receiver).limit.limit,
    inFlight: (receiver) => entries.get(receiver)?.limit.inFlight ?? 0,
    learn(receiver, settings) {
      const entry = entryOf(receiver);
      const max = settings.maxConcurrency ?? defaultMax;
      const adaptive = settings.adaptive ?? true;
      if (entry.max === max && entry.adaptive === adaptive) return;
      entry.max = max;
      entry.adaptive = adaptive;
      configure(entry);
    },
    started(receiver) {
      const entry = entryOf(receiver);
      entry.usedAt = Date.now();
      entry.limit.started();
      ctx.metrics.deliveriesInFlight.inc();
    },
    ended(receiver, feedback) {
      const entry = entryOf(receiver);
      ctx.metrics.deliveriesInFlight.dec();
      if (!feedback) return entry.limit.abandoned();
      if (feedback.pauseMs !== undefined)
        entry.pausedUntil = Math.max(entry.pausedUntil, Date.now() + feedback.pauseMs);
      const change = entry.limit.ended(feedback);
      if (change) ctx.metrics.concurrencyChanges.inc({ change });
    },
    pausedUntil(receiver) {
      const until = entries.get(receiver)?.pausedUntil ?? 0;
      return until > Date.now() ? until : undefined;
    },
    async stop() {
      clearInterval(timer);
      loop.disable();
      await reporting;
      await withdrawConcurrency(ctx.pool, processId).catch(() => undefined);
    },
  };
}
