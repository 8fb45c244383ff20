// What a schedule's cron expression and time zone may be, and the occurrences they make. pg-boss evaluates them
// (its cron pass and its preview use cron-parser); this module refuses, before pg-boss sees them, what the
// contract does not take: anything but 5 fields (pg-boss would also read seconds and RFC 5545 rules), a random
// `H` field (each read would pick another minute), an expression too sparse for pg-boss's pass to read cheaply,
// and a zone that is not an IANA name.
import { CronExpressionParser } from 'cron-parser';
import type { PgBoss } from 'pg-boss';

/** The shorthands cron users write, as the 5 fields they stand for (@reboot and sub-minute ones mean nothing here). */
const SHORTHANDS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const MAX_CRON_LENGTH = 200;
/**
 * pg-boss's cron pass reads every schedule each time it runs, walking back to each one's latest occurrence, on the
 * event loop of the worker that runs it: an expression that occurs less than about once a year (29 February, the
 * fifth Monday of February) costs 5 to 20 ms a walk, against under 1 ms for a daily one. Two runs within two years
 * keeps every schedule's walk short.
 */
const MAX_SPAN_OF_TWO_RUNS_MS = 2 * 366 * 86_400_000;

/** The expression as pg-boss gets it (a shorthand as its 5 fields), or why it is refused. */
export function parseCron(cron: string, now = Date.now()): { cron: string } | { problem: string } {
  const text = cron.trim().replace(/\s+/g, ' ');
  if (text.length === 0 || text.length > MAX_CRON_LENGTH) {
    return { problem: `must be 1 to ${MAX_CRON_LENGTH} characters` };
  }
  const expression = text.startsWith('@') ? SHORTHANDS[text.toLowerCase()] : text;
  if (expression === undefined) {
    return { problem: `the shorthands are ${Object.keys(SHORTHANDS).join(', ')}` };
  }
  const fields = expression.split(' ');
  if (fields.length !== 5) {
    return {
      problem: `must have 5 fields (minute hour day-of-month month day-of-week), not ${fields.length}`,
    };
  }
  if (fields.some((field) => /\bH\b/i.test(field))) return { problem: 'the random H field is not supported' };
  try {
    const interval = CronExpressionParser.parse(expression, {
      tz: 'UTC',
      strict: false,
      currentDate: new Date(now),
    });
    interval.next();
    if (interval.next().getTime() - now > MAX_SPAN_OF_TWO_RUNS_MS) {
      return { problem: 'must run at least twice in two years' };
    }
    return { cron: expression };
  } catch (error) {
    return { problem: (error as Error).message };
  }
}

/**
 * The zone as given, or undefined when it is not a name from the IANA database. Offsets like `+05:00` are
 * refused although Intl reads them, since the contract asks for a zone by name (the database's own fixed-offset
 * names, such as `Etc/GMT+5` and `EST`, are names and are taken). Only the case is corrected (`utc` → `UTC`): Intl
 * would also turn current names into older ones (`Asia/Kolkata` → `Asia/Calcutta`), which is not what was asked.
 */
export function canonicalZone(timezone: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(timezone)) return undefined;
  try {
    const resolved = new Intl.DateTimeFormat('en-US', { timeZone: timezone }).resolvedOptions().timeZone;
    return resolved.toLowerCase() === timezone.toLowerCase() ? resolved : timezone;
  } catch {
    return undefined;
  }
}

/** Previews kept per expression and zone: a yearly one costs milliseconds to walk. */
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
  const interval = CronExpressionParser.parse(cron, {
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
  // Runs the spring-forward skips come in one day a year: a few pages are plenty.
  for (let page = 0; page < 4 && runs.length < 5; page++) {
    const preview = boss.previewSchedule(cron, { tz: timezone, count: 5, from });
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
  const interval = CronExpressionParser.parse(cron, {
    tz: timezone,
    strict: false,
    currentDate: new Date(at.getTime() + 1),
  });
  return interval.prev().toDate();
}
