// How many attempts one process lets run at once to a receiver: adaptive request concurrency after Vector's
// (its RFC 2020-04-06, "ARC"), an AIMD loop on each receiver's answers. Time is cut into windows about one
// round trip long. At a window's end the limit
//   - shrinks by a tenth (at least to 1) if the receiver pushed back in it (429, 503, a timeout, a connection
//     error) or its round trips rose above their moving average by more than their usual deviation allows;
//   - grows by one if not, and the limit was reached in the window (there was more to send than it allowed);
//   - stays otherwise.
// A receiver that is fine sees its limit climb one per round trip up to the cap; one that queues requests
// inside, or refuses them, sees it fall back at once. With adaptation off the limit is the cap.
//
// The cap is the endpoint's maxConcurrency less what other processes use of it (concurrency-report.ts keeps
// that budget through Postgres).

/** What an attempt tells the limiter: how long it took and whether the receiver pushed back. */
export interface AttemptFeedback {
  rttMs: number;
  overloaded: boolean;
  /** A Retry-After: no attempt to the receiver for so long. */
  pauseMs?: number;
}

/** Where an adaptive limit starts: low, since it climbs in a few round trips and falls back slowly. */
export const INITIAL_LIMIT = 5;
/** Vector's defaults: the decrease ratio, the weight of a window in the moving averages, the deviation scale. */
const DECREASE = 0.9;
const EWMA_ALPHA = 0.4;
const DEVIATION_SCALE = 2.5;
/** A window is at least this long, so that it holds more than one answer from a receiver that is very fast. */
const MIN_WINDOW_MS = 20;
/** Round trips within this much of their average are never a rise (timer and event-loop noise on fast ones). */
const RTT_TOLERANCE = 0.1;

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
  private pastRtt: number | undefined;
  private deviation = 0;
  private windowStart: number;
  private rttSum = 0;
  private answers = 0;
  private reached = false;
  private pushedBack = false;

  private readonly now: () => number;

  constructor(settings: LimitSettings, now: () => number = () => performance.now()) {
    this.now = now;
    this.settings = settings;
    this.current = settings.adaptive ? Math.min(INITIAL_LIMIT, settings.cap) : settings.cap;
    this.windowStart = now();
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
    if (this.inFlight >= this.limit) this.reached = true;
  }

  /** An attempt ended without an answer to learn from (released, or it failed before sending). */
  abandoned(): void {
    this.inFlight -= 1;
  }

  ended(feedback: AttemptFeedback): LimitChange {
    this.inFlight -= 1;
    if (!this.settings.adaptive) return undefined;
    if (feedback.overloaded) this.pushedBack = true;
    else {
      this.rttSum += feedback.rttMs;
      this.answers += 1;
    }
    const now = this.now();
    if (now - this.windowStart < Math.max(this.pastRtt ?? 0, MIN_WINDOW_MS)) return undefined;
    return this.closeWindow(now);
  }

  private closeWindow(now: number): LimitChange {
    const rtt = this.answers > 0 ? this.rttSum / this.answers : undefined;
    const past = this.pastRtt;
    const rose =
      rtt !== undefined &&
      past !== undefined &&
      rtt > past + Math.max(DEVIATION_SCALE * this.deviation, RTT_TOLERANCE * past);
    let change: LimitChange;
    if (this.pushedBack || rose) {
      change = this.pushedBack ? 'pushback' : 'latency';
      this.current = Math.max(1, Math.floor(this.current * DECREASE));
    } else if (this.reached && this.current < this.settings.cap) {
      change = 'increase';
      this.current += 1;
    }
    // Answers under pushback say little about the receiver's ordinary round trip: only others teach it.
    if (rtt !== undefined) {
      if (past === undefined) this.pastRtt = rtt;
      else {
        this.deviation = EWMA_ALPHA * Math.abs(rtt - past) + (1 - EWMA_ALPHA) * this.deviation;
        this.pastRtt = EWMA_ALPHA * rtt + (1 - EWMA_ALPHA) * past;
      }
    }
    this.windowStart = now;
    this.rttSum = 0;
    this.answers = 0;
    this.reached = this.inFlight >= this.limit;
    this.pushedBack = false;
    return change;
  }
}
