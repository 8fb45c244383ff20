// Timeouts and aborts for work that may not stop when asked. A timeout signal that can be cleared. AbortSignal.timeout keeps its timer, and everything reachable from
// the signal (composite signals, listeners, the work's closures), alive until it fires: with a job's minutes
// of timeout that held each finished job's memory for minutes, hundreds of MiB under load.

export interface Deadline {
  signal: AbortSignal;
  /** Stops the timer once the work is over. */
  clear(): void;
}

export function deadline(ms: number): Deadline {
  const controller = new AbortController();
  // The same reason AbortSignal.timeout gives, so callers recognise a timeout by its name either way.
  const timer = setTimeout(
    () => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
    ms,
  );
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

/**
 * The work's outcome, or the signal's reason as soon as it fires: a caller whose work ignores its signal (a
 * handler) goes on without waiting for it.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
