// Which expressions and zones a schedule takes, and the next runs pg-boss's preview gives across DST changes
// (pure: no database). America/New_York springs forward at 2:00 on 14 March 2027 and falls back at 2:00 on
// 7 November 2027; Europe/Berlin springs forward at 2:00 on 28 March 2027.
import { PgBoss } from 'pg-boss';
import t from 'tap';
import { canonicalZone, isRun, nextRuns, occurrenceAt, parseCron } from '../../src/schedules/recurrence.ts';

// An instance that is never started: its preview is pure cron arithmetic.
const boss = new PgBoss({ connectionString: 'postgres://unused@127.0.0.1:1/unused' });
const runs = (cron: string, zone: string, from: string) =>
  nextRuns(boss, cron, zone, Date.parse(from)).map((run) => run.toISOString());

t.test('a daily run at a time the spring-forward skips has no run that day', async (t) => {
  // pg-boss's pass walks back from its own time and cron-parser's backward walk misses the day's shifted run
  // (03:30 EDT by the forward walk): the next runs say so rather than list a run that will not happen.
  t.strictSame(runs('30 2 * * *', 'America/New_York', '2027-03-12T12:00:00Z'), [
    '2027-03-13T07:30:00.000Z', // 02:30 EST
    '2027-03-15T06:30:00.000Z', // 02:30 EDT; none on the 14th
    '2027-03-16T06:30:00.000Z',
    '2027-03-17T06:30:00.000Z',
    '2027-03-18T06:30:00.000Z',
  ]);
  t.equal(
    occurrenceAt('30 2 * * *', 'America/New_York', new Date('2027-03-14T07:30:10Z')).toISOString(),
    '2027-03-13T07:30:00.000Z',
    "the pass's reading in that minute finds the day before's run, out of its window",
  );
  t.strictSame(
    runs('0 9 * * *', 'America/New_York', '2027-03-12T12:00:00Z').length,
    5,
    'other times are untouched',
  );
});

t.test('a daily run in the hour the fall-back repeats runs once, at the first 1:30', async (t) => {
  t.strictSame(runs('30 1 * * *', 'America/New_York', '2027-11-05T12:00:00Z'), [
    '2027-11-06T05:30:00.000Z', // 01:30 EDT
    '2027-11-07T05:30:00.000Z', // 01:30 EDT, not again at 01:30 EST
    '2027-11-08T06:30:00.000Z', // 01:30 EST
    '2027-11-09T06:30:00.000Z',
    '2027-11-10T06:30:00.000Z',
  ]);
  // The pass finds 01:30 again an hour later (01:30 EST); an occurrence handler takes only the first.
  t.equal(
    occurrenceAt('30 1 * * *', 'America/New_York', new Date('2027-11-07T06:30:10Z')).toISOString(),
    '2027-11-07T06:30:00.000Z',
  );
  t.equal(
    isRun('30 1 * * *', 'America/New_York', new Date('2027-11-07T06:30:00Z')),
    false,
    'the repeat is no run',
  );
  t.equal(isRun('30 1 * * *', 'America/New_York', new Date('2027-11-07T05:30:00Z')), true, 'the first is');
  t.equal(
    isRun('0 * * * *', 'America/New_York', new Date('2027-11-07T06:00:00Z')),
    true,
    'an hourly run is each real hour',
  );
});

t.test('an hourly schedule runs every real hour through the fall-back', async (t) => {
  t.strictSame(runs('0 * * * *', 'America/New_York', '2027-11-07T04:30:00Z'), [
    '2027-11-07T05:00:00.000Z', // 01:00 EDT
    '2027-11-07T06:00:00.000Z', // 01:00 EST
    '2027-11-07T07:00:00.000Z', // 02:00 EST
    '2027-11-07T08:00:00.000Z',
    '2027-11-07T09:00:00.000Z',
  ]);
});

t.test('a weekday 9:00 in Berlin stays 9:00 local across the change (UTC moves an hour)', async (t) => {
  t.strictSame(runs('0 9 * * 1-5', 'Europe/Berlin', '2027-03-25T12:00:00Z'), [
    '2027-03-26T08:00:00.000Z', // Fri 09:00 CET
    '2027-03-29T07:00:00.000Z', // Mon 09:00 CEST
    '2027-03-30T07:00:00.000Z',
    '2027-03-31T07:00:00.000Z',
    '2027-04-01T07:00:00.000Z',
  ]);
  t.strictSame(runs('0 9 * * 1-5', 'UTC', '2027-03-25T12:00:00Z')[1], '2027-03-29T09:00:00.000Z');
});

t.test('the occurrence a send stands for is the latest at or before it, in the zone', async (t) => {
  const at = (cron: string, zone: string, sent: string) =>
    occurrenceAt(cron, zone, new Date(sent)).toISOString();
  t.equal(at('* * * * *', 'UTC', '2027-01-01T10:00:07Z'), '2027-01-01T10:00:00.000Z');
  t.equal(
    at('* * * * *', 'UTC', '2027-01-01T10:00:00Z'),
    '2027-01-01T10:00:00.000Z',
    'an exact minute is its own',
  );
  t.equal(at('0 * * * *', 'America/New_York', '2027-11-07T06:20:00Z'), '2027-11-07T06:00:00.000Z');
});

t.test('5-field expressions and the usual shorthands (as their 5 fields) only', async (t) => {
  const cron = (text: string) => {
    const parsed = parseCron(text, Date.parse('2026-12-02T12:00:00Z'));
    return 'cron' in parsed ? parsed.cron : undefined;
  };
  for (const ok of [
    '* * * * *',
    '0 9 * * MON-FRI',
    '*/15 8-18 * * 1-5',
    '0 0 L * *',
    '0 9 * * 1#2',
    '0 0 1 1 *',
  ]) {
    t.equal(cron(ok), ok, ok);
  }
  t.equal(cron('  0   9 * *   1-5 '), '0 9 * * 1-5', 'spaces as cron reads them');
  t.equal(cron('@daily'), '0 0 * * *');
  t.equal(cron('@midnight'), '0 0 * * *', 'a shorthand cron-parser does not know');
  t.equal(cron('@HOURLY'), '0 * * * *', 'in any case');
  t.equal(cron('@weekly'), '0 0 * * 0');
  for (const bad of [
    '',
    '* * * *',
    '0 * * * * *',
    '61 * * * *',
    'H 9 * * *',
    'FREQ=DAILY',
    '@reboot',
    '@secondly',
    '0 0 29 2 *', // every four years: too sparse for pg-boss's pass to walk back to cheaply
    '0 0 * 2 1#5', // the fifth Monday of February
  ]) {
    const parsed = parseCron(bad);
    t.ok('problem' in parsed, `${JSON.stringify(bad)}: ${'problem' in parsed ? parsed.problem : 'taken'}`);
  }
});

t.test('IANA zones only, in their canonical spelling', async (t) => {
  t.equal(canonicalZone('Europe/Berlin'), 'Europe/Berlin');
  t.equal(canonicalZone('utc'), 'UTC');
  t.equal(canonicalZone('europe/berlin'), 'Europe/Berlin', 'the case corrected');
  t.equal(canonicalZone('Asia/Kolkata'), 'Asia/Kolkata', 'not turned into an older name');
  t.equal(canonicalZone('Asia/Calcutta'), 'Asia/Calcutta', 'nor a link into the current one');
  for (const bad of ['Mars/Olympus', '+05:00', '-0300', '', '../etc', 'Europe/Berlin\u0000']) {
    t.equal(canonicalZone(bad), undefined, JSON.stringify(bad));
  }
});
