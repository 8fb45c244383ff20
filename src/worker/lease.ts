// Keeps one attempt's lease: a heartbeat at a third of the time left, progress sent at once (calls made while a
// heartbeat is in flight coalesced into the next one), and hookrelay's word that the attempt is over (404, 409)
// turned into an aborted signal, after which nothing more is sent for it.
import type { Http } from './http.ts';
import { cut } from './outcome.ts';
import type { Log } from './types.ts';

/** `task.signal`'s reason when hookrelay ended the attempt: cancelled, ended, or its lease lost. */
export class TaskEndedError extends Error {
  override name = 'TaskEndedError';
  /** 409, or 404 for a token hookrelay does not know (any more). */
  readonly status: number;
  /** The problem's title: "Attempt cancelled", "Attempt ended" or "Lease lost" for a 409. */
  readonly title: string;

  constructor(status: number, title: string, during: string, message?: string) {
    super(message ?? `${title}: hookrelay answered ${status} to this attempt's ${during}; stop the work`);
    this.status = status;
    this.title = title;
  }

  /** No heartbeat got through before the lease ran out (status 0: nothing was answered). */
  static lapsed(): TaskEndedError {
    return new TaskEndedError(
      0,
      'Lease lost',
      'heartbeats',
      'Lease lost: no heartbeat got through before the lease ran out, and another worker may take the job now; stop the work',
    );
  }
}

export interface Lease {
  /** Aborted, with a TaskEndedError, when hookrelay said the attempt is over. */
  ended: AbortSignal;
  /** Ends the attempt for this worker with what hookrelay answered to a report. */
  end(error: TaskEndedError): void;
  /** Milliseconds until the lease runs out, on this machine's clock. */
  leftMs(): number;
  progress(percent: number, message?: string): Promise<void>;
  /** Stops heartbeating; resolves once a heartbeat in flight was answered, so that the report comes after it. */
  release(): Promise<void>;
}

/** A heartbeat never follows the previous answer sooner than this, however little time is left. */
const MIN_GAP_MS = 250;
/** A heartbeat slower than the time left is no use, but a busy server gets a few seconds whatever the lease. */
const HEARTBEAT_TIMEOUT_MS = { min: 2_000, max: 15_000 };
/**
 * A worker whose heartbeats do not get through stops the attempt this long before its lease runs out by its own
 * clock: after that, another worker may be running the job.
 */
const LAPSE_MARGIN_MS = 500;
/** As the service keeps a progress message. */
const MAX_MESSAGE = 500;

/** A Date header has whole seconds: the server's time was anywhere in the second after the one it gives. */
const DATE_RESOLUTION_MS = 1_000;

/**
 * The time left on a lease: the server's expiry read against the server's clock when its answer gave it, taken
 * at the end of the Date header's second, so that the worker never believes it holds a lease longer than it does.
 */
export const leftOf = (expiresAt: string, serverNow: number | undefined, now = Date.now()) =>
  Date.parse(expiresAt) - (serverNow === undefined ? now : serverNow + DATE_RESOLUTION_MS);

interface Waiter {
  resolve(): void;
  reject(reason: unknown): void;
}

export function keepLease(
  http: Http,
  token: string,
  initialLeftMs: number,
  log: Log,
  fields: Record<string, unknown>,
): Lease {
  const ended = new AbortController();
  let expiresAt = Date.now() + initialLeftMs;
  let timer: NodeJS.Timeout | undefined;
  let lapse: NodeJS.Timeout | undefined;
  let released = false;
  let flight: Promise<void> | undefined;
  let again = false;
  let pending: { percent: number; message?: string } | undefined;
  let waiters: Waiter[] = [];

  const leftMs = () => expiresAt - Date.now();
  const over = () => released || ended.signal.aborted;

  function schedule() {
    clearTimeout(timer);
    if (!over()) timer = setTimeout(beat, Math.max(MIN_GAP_MS, leftMs() / 3));
  }

  function end(error: TaskEndedError) {
    clearTimeout(timer);
    clearTimeout(lapse);
    if (!ended.signal.aborted) ended.abort(error);
  }

  /** Ends the attempt here when the lease runs out before a heartbeat moves it. */
  function watchLapse() {
    clearTimeout(lapse);
    if (!over()) lapse = setTimeout(() => over() || end(TaskEndedError.lapsed()), leftMs() - LAPSE_MARGIN_MS);
  }

  async function send() {
    do {
      again = false;
      clearTimeout(timer);
      const progress = pending;
      pending = undefined;
      const answered = waiters;
      waiters = [];
      const reply = await http.post<{ leaseExpiresAt: string }>(
        `v1/tasks/${encodeURIComponent(token)}/heartbeat`,
        JSON.stringify(progress ? { progress } : {}),
        {
          auth: false,
          timeoutMs: Math.min(HEARTBEAT_TIMEOUT_MS.max, Math.max(HEARTBEAT_TIMEOUT_MS.min, leftMs())),
        },
      );
      if (reply.kind === 'ok') {
        const left = leftOf(reply.body.leaseExpiresAt, reply.serverNow);
        if (Number.isFinite(left)) expiresAt = Date.now() + left;
        watchLapse();
      } else if (reply.kind === 'ended') {
        end(new TaskEndedError(reply.status, reply.title, 'heartbeat'));
      } else if (reply.kind === 'transient') {
        // Sent again with the next heartbeat, unless newer progress replaced it meanwhile.
        if (progress && !pending) pending = progress;
        log('warn', 'heartbeat failed; trying again', {
          ...fields,
          reason: reply.reason,
          leaseLeftMs: Math.round(leftMs()),
        });
      } else {
        // Refused as sent (its progress, say): the next heartbeat goes without it, or the lease would lapse.
        log('error', `heartbeat refused: ${reply.status} ${reply.title}`, { ...fields, progress });
      }
      for (const waiter of answered) {
        if (ended.signal.aborted) waiter.reject(ended.signal.reason);
        else waiter.resolve();
      }
    } while (again && !over());
  }

  /** One heartbeat in flight at a time: asked for during one, another follows it carrying the latest progress. */
  function beat() {
    if (flight) {
      again = true;
      return;
    }
    flight = send()
      .catch((error: unknown) =>
        log('error', 'heartbeat failed unexpectedly', { ...fields, error: String(error) }),
      )
      .finally(() => {
        flight = undefined;
        schedule();
      });
  }

  schedule();
  watchLapse();
  return {
    ended: ended.signal,
    end,
    leftMs,
    progress(percent, message) {
      if (!Number.isFinite(percent) || percent < 0 || percent > 100)
        return Promise.reject(new RangeError('progress is 0–100'));
      if (ended.signal.aborted) return Promise.reject(ended.signal.reason);
      if (released) return Promise.resolve();
      pending = { percent, ...(message !== undefined && { message: cut(String(message), MAX_MESSAGE) }) };
      return new Promise<void>((resolve, reject) => {
        waiters.push({ resolve, reject });
        beat();
      });
    },
    async release() {
      released = true;
      clearTimeout(timer);
      clearTimeout(lapse);
      await flight;
      for (const waiter of waiters.splice(0)) waiter.resolve();
    },
  };
}
