// The one way tests, chaos scenarios and benchmarks wait for something to happen: poll until it does, or fail by
// a deadline saying what did not.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `test` until it returns a truthy value, and returns that value. A test that throws (the database
 * restarting, say) counts as not yet; after `timeoutMs` the wait fails naming `what` and the last error.
 */
export async function waitFor<T>(
  what: string,
  test: () => Promise<T> | T,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await test();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) break;
    await sleep(everyMs);
  }
  throw new Error(
    `gave up after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (${(last as Error).message})` : ''}`,
  );
}
