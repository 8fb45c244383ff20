// Reads an upstream's Retry-After (seconds, or an HTTP date) as a wait in milliseconds, capped.

/** The longest wait an upstream's Retry-After may impose on us. */
export const RETRY_AFTER_CAP_MS = 3_600_000;

/** RFC 9110's IMF-fixdate; Date.parse alone would also read "1.5" or "-5" as dates. */
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

export function parseRetryAfter(
  header: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return undefined;
  const ms = /^\d+$/.test(value)
    ? Number(value) * 1000
    : HTTP_DATE.test(value)
      ? Date.parse(value) - now
      : Number.NaN;
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), RETRY_AFTER_CAP_MS) : undefined;
}
