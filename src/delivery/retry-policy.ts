// When a message's next attempt runs: DELIVERY_RETRY_SCHEDULE gives the delay after each failed attempt.

const JITTER = 0.2;

/**
 * Delay after failed attempt `attempt` (1-based), ±20 % so receivers recovering from an outage are not hit
 * by every waiting message at once; undefined when the schedule is used up (the message is dead-lettered).
 */
export function nextDelayMs(
  attempt: number,
  schedule: number[],
  random: () => number = Math.random,
): number | undefined {
  const delay = schedule[attempt - 1];
  if (delay === undefined) return undefined;
  return Math.round(delay * (1 - JITTER + random() * 2 * JITTER));
}
