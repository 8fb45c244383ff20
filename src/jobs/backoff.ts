// When a failed job attempt runs again: exponential backoff with jitter, capped.

/**
 * Delay before the attempt after `attempt` (1-based): base·2^(attempt-1), capped at max, then "equal jitter"
 * (a random point in the upper half), so retries of many jobs failing together spread out without any of
 * them retrying almost at once.
 */
export function retryDelayMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
