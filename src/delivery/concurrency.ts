// How many attempts one process lets run at once to a receiver: adaptive request concurrency after Vector's
// (its RFC 2020-04-06, "ARC"), an AIMD loop on each receiver's answers. Time is cut into windows about one
// round trip long. The limit shrinks by a tenth (at least to 1) at the first pushback in a window (429, 503, a
// timeout, a connection error). At a window's end without one, it
//   - shrinks by a tenth if the window's round trips rose above their baseline by a tenth and 5 ms, and at
//     least half the limit was in flight at once in it;
//   - grows by one if not, and the limit was reached in the window (there was more to send than it allowed);
//   - stays otherwise.
// A receiver that is fine sees its limit climb one per round trip up to the cap; one that queues requests
// inside (its round trips grow with what we send) or refuses them sees it fall back at once. With adaptation
// off the limit is the cap.
//
// Where this departs from Vector: the baseline is the receiver's unloaded round trip (the lowest seen), not a
// moving average with a deviation band. A moving average follows a receiver's queue as it
// grows, so the limit climbs until the receiver refuses (measured: 9 % of attempts refused with a receiver that
// queues past its capacity and refuses at 1.5 times it; docs/benchmarks.md). Against the baseline, a queue a
// tenth of a round trip and 5 ms long is a rise. A receiver that simply became slower (its round trips stay up after the limit fell
// five times in a row) is given a new baseline, and the limit goes back to where it was before those cuts.
//
// And as Netflix's concurrency-limits (VegasLimit) does, a rise while less than half the limit was in flight
// cuts nothing: a queue our concurrency made needs our concurrency, and cutting a limit we do not use would not
// shorten it.
//
// Why 5 ms: a receiver a millisecond away, on a machine busy enough to answer or read some requests late,
// shows rises of a few milliseconds that no queue of ours made. With 1 ms (and a quarter) those cut its limit
// until its bursts waited here: the chaos `latency` scenario's p99 was 150-540 ms next to Postgres against
// 60-73 ms with latency cuts off or the limit fixed (docs/benchmarks.md, "Adaptive concurrency"). The price: a
// receiver that answers in a millisecond or two is limited by its pushback alone until its queue is 5 ms long.
//
// The cap is the endpoint's maxConcurrency less what other processes use of it (receiver-limits.ts keeps that
// budget through Postgres).

/** What an attempt tells the limiter: how long it took and whether the receiver pushed back. */
export interface AttemptFeedback {
  rttMs: number;
  overloaded: boolean;
  /** A Retry-After: no attempt to the receiver for so long. */
  pauseMs?: number;
}

/** Where an adaptive limit starts: low, since it climbs in a few round trips and falls back slowly. */
export const INITIAL_LIMIT = 5;
/** Vector's decrease ratio, and its weight of a window in the moving average (here: of the window length). */
const DECREASE = 0.9;
const EWMA_ALPHA = 0.4;
/** A window is at least this long, so that it holds more than one answer from a receiver that is very fast. */
const MIN_WINDOW_MS = 20;
/**
 * A rise: round trips above the baseline by this fraction, and by this much (scheduling noise) plus twice this
 * process's event-loop lag (an answer waits that long to be read when the process is busy: a delay of ours, not
 * the receiver's, which cutting its limit would not cure).
 */
const RISE = 0.1;
const RISE_SLACK_MS = 5;
/**
 * Rises in a row, each answered by a decrease, after which the receiver is taken to have slowed down (or the
 * baseline to have been a lucky low): a queue of ours shrinks below a rise within two or three decreases.
 */
const REBASE_AFTER = 5;

/** How a window's end changed the limit. */
export type LimitChange = 'increase' | 'pushback' | 'latency' | undefined;

export interface LimitSettings {
  /** The most this process may use: maxConcurrency, less what other processes use (at least 1). */
  cap: number;
  adaptive: boolean;
}

export class AdaptiveLimit {
  /** Attempts running now. */
  inFlight = 0;
  private current: number;
  private settings: LimitSettings;
  /** The receiver's round trip unloaded: the lowest seen since it was last set (see the top). */
  private baseRtt: number | undefined;
  /** A moving average of round trips: how long a window is. */
  private meanRtt: number | undefined;
  private risesInARow = 0;
  /** The limit before the current run of rises cut it. */
  private beforeRises = 0;
  private windowStart: number;
  private rttSum = 0;
  private answers = 0;
  private reached = false;
  /** The most attempts in flight at once in this window. */
  private peak = 0;
  private pushedBack = false;

  private readonly now: () => number;
  private readonly loopLagMs: () => number;

  constructor(settings: LimitSettings, clock: { now?: () => number; loopLagMs?: () => number } = {}) {
    this.now = clock.now ?? (() => performance.now());
    this.loopLagMs = clock.loopLagMs ?? (() => 0);
    this.settings = settings;
    this.current = settings.adaptive ? Math.min(INITIAL_LIMIT, settings.cap) : settings.cap;
    this.windowStart = this.now();
  }

  get limit(): number {
    return this.settings.adaptive ? Math.min(this.current, this.settings.cap) : this.settings.cap;
  }

  get adaptive(): boolean {
    return this.settings.adaptive;
  }

  /** New cap or mode (the endpoint changed, or other processes' use of it did). */
  configure(settings: LimitSettings): void {
    if (settings.adaptive && !this.settings.adaptive) this.current = Math.min(INITIAL_LIMIT, settings.cap);
    this.settings = settings;
    if (settings.adaptive) this.current = Math.max(1, Math.min(this.current, settings.cap));
  }

  started(): void {
    this.inFlight += 1;
    this.peak = Math.max(this.peak, this.inFlight);
    if (this.inFlight >= this.limit) this.reached = true;
  }

  /** An attempt ended without an answer to learn from (released, or it failed before sending). */
  abandoned(): void {
    this.inFlight -= 1;
  }

  ended(feedback: AttemptFeedback): LimitChange {
    this.inFlight -= 1;
    if (!this.settings.adaptive) return undefined;
    if (feedback.overloaded) {
      // Cut at the first pushback, not at the window's end: each slot an instant 503 frees would otherwise be
      // refilled at once, and refused again, until then. Once per window: the rest of its 503s are the same news.
      if (!this.pushedBack) {
        this.pushedBack = true;
        this.current = Math.max(1, Math.floor(this.current * DECREASE));
        return 'pushback';
      }
    } else {
      this.rttSum += feedback.rttMs;
      this.answers += 1;
    }
    const now = this.now();
    if (now - this.windowStart < Math.max(this.meanRtt ?? 0, MIN_WINDOW_MS)) return undefined;
    return this.closeWindow(now);
  }

  private closeWindow(now: number): LimitChange {
    const rtt = this.answers > 0 ? this.rttSum / this.answers : undefined;
    const base = this.baseRtt;
    const above =
      rtt !== undefined &&
      base !== undefined &&
      rtt > base * (1 + RISE) + RISE_SLACK_MS + 2 * this.loopLagMs();
    // Less than half the limit in flight: round trips above the baseline say nothing about our concurrency.
    const rose = above && this.peak * 2 >= this.current;
    let change: LimitChange;
    // A pushback cut the limit when it came.
    if (this.pushedBack) change = undefined;
    else if (rose) {
      change = 'latency';
      this.current = Math.max(1, Math.floor(this.current * DECREASE));
    } else if (this.reached && this.current < this.settings.cap) {
      change = 'increase';
      this.current += 1;
    }
    // Answers under pushback say little about the receiver's ordinary round trip: only others teach it.
    if (rtt !== undefined) {
      this.meanRtt = this.meanRtt === undefined ? rtt : EWMA_ALPHA * rtt + (1 - EWMA_ALPHA) * this.meanRtt;
      if (base === undefined || rtt < base) this.baseRtt = rtt;
      else if (rose) {
        if (this.risesInARow === 0) this.beforeRises = Math.ceil(this.current / DECREASE);
        this.risesInARow += 1;
        // Still up after the limit fell this often: not a queue of ours, the receiver itself is slower now. Its
        // new pace is the baseline, and the cuts made for it are undone (a receiver that cannot take that pushes
        // back, and is cut for it).
        if (this.risesInARow >= REBASE_AFTER) {
          this.baseRtt = rtt;
          this.risesInARow = 0;
          this.current = Math.min(this.beforeRises, this.settings.cap);
        }
      } else if (!above) this.risesInARow = 0;
      // (Above it with little in flight: neither a rise nor a return, so a run of rises is not broken by it.)
    }
    this.windowStart = now;
    this.rttSum = 0;
    this.answers = 0;
    this.reached = this.inFlight >= this.limit;
    this.peak = this.inFlight;
    this.pushedBack = false;
    return change;
  }
}
