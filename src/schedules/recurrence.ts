// What a schedule's cron expression and time zone may be, and the occurrences they make. pg-boss evaluates them
// (its cron pass and its preview use cron-parser); this module refuses, before pg-boss sees them, what the
// contract does not take: anything but 5 fields (pg-boss would also read seconds and RFC 5545 rules), a random
// `H` field (each read would pick another minute), and a zone that is not an IANA name.
import { CronExpressionParser } from 'cron-parser';
import type { PgBoss } from 'pg-boss';

/** The 5-field shorthands cron users write; @reboot and the sub-minute ones have no meaning here. */
const SHORTHANDS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);
const MAX_CRON_LENGTH = 200;

/** Why the expression is refused, or undefined when pg-boss may have it. */
export function cronProblem(cron: string): string | undefined {
  const text = cron.trim();
  if (text.length === 0 || text.length > MAX_CRON_LENGTH) return `must be 1 to ${MAX_CRON_LENGTH} characters`;
  if (text.startsWith('@')) {
    return SHORTHANDS.has(text.toLowerCase())
      ? undefined
      : `the shorthands are ${[...SHORTHANDS].join(', ')}`;
  }
  const fields = text.split(/\s+/);
  if (fields.length !== 5) {
    return `must have 5 fields (minute hour day-of-month month day-of-week), not ${fields.length}`;
  }
  if (fields.some((field) => /\bH\b/i.test(field))) return 'the random H field is not supported';
  try {
    CronExpressionParser.parse(text, { tz: 'UTC', strict: false });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * The zone as Intl names it (`utc` → `UTC`), or undefined when it is not an IANA name: offsets like `+05:00`
 * are refused although Intl reads them, since they never change for DST and the contract asks for a zone.
 */
export function canonicalZone(timezone: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(timezone)) return undefined;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: timezone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** Previews kept per expression and zone: a sparse one (`0 0 29 2 *`) costs tens of milliseconds to walk. */
const PREVIEWS_KEPT = 5_000;
const previews = new Map<string, Date[]>();

/**
 * Whether pg-boss's cron pass sends the run. The pass finds an occurrence by walking back from its own time, and
 * cron-parser's backward walk misses a run that the spring-forward shifts (02:30 on the day New York skips from
 * 02:00 to 03:00, which its forward walk, the preview, puts at 03:30): that day has no such run.
 */
function passSends(cron: string, timezone: string, run: Date): boolean {
  return occurrenceAt(cron, timezone, run).getTime() === run.getTime();
}

/**
 * Whether an occurrence the pass found is one of the forward walk's. In the hour the fall-back repeats, the
 * backward walk finds 01:30 twice (before and after the change); the zone's 01:30 is the first, as the preview
 * says, so the second is not a run of its own.
 */
export function isRun(cron: string, timezone: string, occurrence: Date): boolean {
  const previous = occurrenceAt(cron, timezone, new Date(occurrence.getTime() - 1));
  const interval = CronExpressionParser.parse(cron.trim(), {
    tz: timezone,
    strict: false,
    currentDate: previous,
  });
  return interval.next().toDate().getTime() === occurrence.getTime();
}

/**
 * The next five runs: pg-boss's preview (the reading its cron pass makes), less a run the pass would not send
 * (`passSends`). Kept per expression and zone until one of them has passed, so listing schedules does not walk
 * the calendar again on every request.
 */
export function nextRuns(boss: PgBoss, cron: string, timezone: string, now = Date.now()): Date[] {
  const key = `${timezone}\n${cron}`;
  const kept = previews.get(key);
  if (kept && (kept[0]?.getTime() ?? 0) > now) {
    // Most recently used last, so the first key is the one to drop.
    previews.delete(key);
    previews.set(key, kept);
    return kept;
  }
  const runs: Date[] = [];
  let from = new Date(now);
  // A skipped run is one a year at most: a second page is plenty.
  for (let page = 0; page < 2 && runs.length < 5; page++) {
    const preview = boss.previewSchedule(cron.trim(), { tz: timezone, count: 5, from });
    runs.push(...preview.filter((run) => passSends(cron, timezone, run)));
    from = preview.at(-1) ?? from;
  }
  runs.splice(5);
  previews.delete(key);
  previews.set(key, runs);
  if (previews.size > PREVIEWS_KEPT) previews.delete(previews.keys().next().value as string);
  return runs;
}

/** The latest occurrence at or before `at` (the backward walk pg-boss's pass makes). */
export function occurrenceAt(cron: string, timezone: string, at: Date): Date {
  const interval = CronExpressionParser.parse(cron.trim(), {
    tz: timezone,
    strict: false,
    currentDate: new Date(at.getTime() + 1),
  });
  return interval.prev().toDate();
}
