// `hookrelay schedules` against a real service process: created in a zone, listed, shown with its next runs in
// that zone and in the local one (TZ), paused and resumed, triggered (the job carries the schedule's id) and
// deleted; a bad cron, an unknown zone and bad options as a clear error with a non-zero exit.
import t from 'tap';
import { cli } from '../helpers/cli.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY } from '../helpers/jobs-app.ts';
import { runHookrelay } from '../helpers/process.ts';

const service = runHookrelay(t, {
  DATABASE_URL: await freshDatabase(t),
  ADMIN_API_KEY: ADMIN_KEY,
});
const base = await service.ready();
const operator = cli(base, ADMIN_KEY);

const json = <T>(text: string) => JSON.parse(text) as T;
const tenant = json<{ apiKey: string }>((await operator(['tenants', 'create', 'acme', '--json'])).stdout);
const hookrelay = cli(base, tenant.apiKey);

interface Schedule {
  id: string;
  name: string | null;
  cron: string;
  timezone: string;
  job: Record<string, unknown>;
  overlap: string;
  paused: boolean;
  nextRuns: string[];
  lastRunAt: string | null;
  lastJobId: string | null;
  occurrences: { fired: number; skipped: number };
  recentJobs?: Array<{ id: string; status: string; scheduleId: string }>;
}

// New Year's Day and the first of July at 09:00 in Berlin: one run in winter time (UTC+1), one in summer time
// (UTC+2), both known in UTC and in Tokyo (UTC+9, no DST) without asking the code under test.
const CRON = '0 9 1 1,7 *';
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** The row `schedules show` prints for a run of CRON: in Berlin and in Tokyo, from its UTC time alone. */
function expectedRow(run: string, index: number): RegExp {
  const at = new Date(run);
  const winter = at.getUTCMonth() === 0;
  const day = `${WEEKDAYS[at.getUTCDay()]} ${run.slice(0, 10)}`;
  return new RegExp(
    `│ ${index}\\s+│ ${day} 09:00 \\(GMT\\+0${winter ? 1 : 2}:00\\)\\s+│ ${day} ${winter ? 17 : 16}:00 \\(GMT\\+09:00\\)\\s+│`,
  );
}

let schedule: Schedule;

t.test('create in a zone, then list it', async (t) => {
  const created = await hookrelay([
    'schedules',
    'create',
    '--cron',
    CRON,
    '--timezone',
    'Europe/Berlin',
    '--type',
    'echo',
    '--input',
    '{"report":"half-year"}',
    '--name',
    'half-year report',
    '--metadata',
    '{"team":"finance"}',
    '--max-attempts',
    '3',
    '--json',
  ]);
  t.equal(created.code, 0, created.stderr);
  schedule = json<Schedule>(created.stdout);
  t.match(schedule, {
    id: /^sch_/,
    name: 'half-year report',
    cron: CRON,
    timezone: 'Europe/Berlin',
    overlap: 'skip',
    paused: false,
    lastRunAt: null,
    occurrences: { fired: 0, skipped: 0 },
  });
  t.strictSame(schedule.job, {
    type: 'echo',
    input: { report: 'half-year' },
    maxAttempts: 3,
    metadata: { team: 'finance' },
  });
  t.equal(schedule.nextRuns.length, 5);
  for (const run of schedule.nextRuns)
    t.match(run, /^\d{4}-(01-01T08|07-01T07):00:00\.000Z$/, `${run}: 09:00 in Berlin`);

  const forPeople = await hookrelay(
    ['schedules', 'create', '--cron', '@hourly', '--type', 'echo', '--paused', '--overlap', 'allow'],
    { TZ: 'UTC' },
  );
  t.equal(forPeople.code, 0, forPeople.stderr);
  t.match(forPeople.stderr, /^created schedule sch_\w+\n$/);
  t.match(forPeople.stdout, /timezone\s+│ UTC/, 'printed as show prints it, in UTC by default');
  t.match(forPeople.stdout, /overlap\s+│ allow/);
  t.match(forPeople.stdout, /no next runs: paused \(hookrelay schedules resume sch_\w+\)/);

  const keyed = await hookrelay([
    'schedules',
    'create',
    '--cron',
    '@hourly',
    '--type',
    'echo',
    '--paused',
    '--ordering-key',
    'nightly',
    '--json',
  ]);
  t.equal(keyed.code, 0, keyed.stderr);
  t.equal(
    json<{ job: { orderingKey?: string } }>(keyed.stdout).job.orderingKey,
    'nightly',
    "the template takes the job's ordering key",
  );
  const keyedId = json<{ id: string }>(keyed.stdout).id;
  t.equal((await hookrelay(['schedules', 'delete', keyedId])).code, 0);

  const listed = await hookrelay(['schedules', 'list'], { TZ: 'UTC' });
  t.equal(listed.code, 0, listed.stderr);
  const first = schedule.nextRuns[0] as string;
  t.match(
    listed.stdout,
    new RegExp(
      `${schedule.id} │ half-year report │ 0 9 1 1,7 \\* │ Europe/Berlin │ no\\s+│ \\w{3} ${first.slice(0, 10)} 09:00 \\(GMT\\+0[12]:00\\) │ -\\s+│ 0/0`,
    ),
    'the next run in the schedule’s zone',
  );
  t.match(
    listed.stdout,
    /│ sch_\w+\s+│\s+│ 0 \* \* \* \*\s+│ UTC\s+│ yes\s+│ -\s+│ -\s+│ 0\/0/,
    'the paused one',
  );
  t.ok(listed.stdout.indexOf('0 * * * *') < listed.stdout.indexOf(schedule.id), 'newest first');
  const page = json<{ data: Schedule[]; nextCursor: string | null }>(
    (await hookrelay(['schedules', 'list', '--limit', '1', '--json'])).stdout,
  );
  t.equal(page.data.length, 1);
  t.match(page.nextCursor, /^sch_/, 'paged as the other lists are');
});

t.test('show: the next runs in the schedule’s zone and in the local one', async (t) => {
  const shown = await hookrelay(['schedules', 'show', schedule.id], { TZ: 'Asia/Tokyo' });
  t.equal(shown.code, 0, shown.stderr);
  t.match(shown.stdout, /cron\s+│ 0 9 1 1,7 \*/);
  t.match(shown.stdout, /occurrences\s+│ 0 fired, 0 skipped/);
  t.match(shown.stdout, /│ next run │ in Europe\/Berlin\s+│ local \(Asia\/Tokyo\)\s+│/);
  schedule.nextRuns.forEach((run, i) => {
    t.match(shown.stdout, expectedRow(run, i + 1), `${run} in Berlin and in Tokyo`);
  });
  t.match(shown.stdout, 'no jobs made yet');

  const inUtc = await hookrelay(['schedules', 'show', schedule.id], { TZ: 'UTC' });
  t.match(inUtc.stdout, /local \(UTC\)/, 'the local zone follows TZ');
  const first = schedule.nextRuns[0] as string;
  t.match(inUtc.stdout, new RegExp(`${first.slice(0, 10)} 0[78]:00 \\(GMT(\\+00:00)?\\)`));

  const asJson = json<Schedule>((await hookrelay(['schedules', 'show', schedule.id, '--json'])).stdout);
  t.match(asJson, { id: schedule.id, nextRuns: schedule.nextRuns, recentJobs: [] });
});

t.test('pause and resume: the next runs go and come back', async (t) => {
  const paused = await hookrelay(['schedules', 'pause', schedule.id]);
  t.equal(paused.code, 0, paused.stderr);
  t.match(paused.stderr, `paused ${schedule.id}`);
  t.match(paused.stdout, /paused\s+│ true/);
  t.match(paused.stdout, 'no next runs: paused');
  t.notMatch(paused.stdout, /09:00/);
  const shown = json<Schedule>((await hookrelay(['schedules', 'show', schedule.id, '--json'])).stdout);
  t.match(shown, { paused: true, nextRuns: [] });

  const resumed = await hookrelay(['schedules', 'resume', schedule.id, '--json']);
  t.equal(resumed.code, 0, resumed.stderr);
  t.match(json<Schedule>(resumed.stdout), { paused: false, nextRuns: schedule.nextRuns });
  const again = await hookrelay(['schedules', 'show', schedule.id], { TZ: 'Asia/Tokyo' });
  t.match(again.stdout, /paused\s+│ false/);
  t.match(again.stdout, expectedRow(schedule.nextRuns[0] as string, 1));
});

t.test('update: what is given changes, the rest stays; job options need --type', async (t) => {
  const renamed = await hookrelay(['schedules', 'update', schedule.id, '--name', 'twice a year', '--json']);
  t.equal(renamed.code, 0, renamed.stderr);
  t.match(json<Schedule>(renamed.stdout), { name: 'twice a year', cron: CRON, timezone: 'Europe/Berlin' });
  const retimed = await hookrelay([
    'schedules',
    'update',
    schedule.id,
    '--cron',
    '0 9 1 * *',
    '--timezone',
    'Asia/Tokyo',
    '--type',
    'echo',
    '--input',
    '{"monthly":true}',
  ]);
  t.equal(retimed.code, 0, retimed.stderr);
  t.match(retimed.stderr, `updated schedule ${schedule.id}`);
  t.match(retimed.stdout, /│ 1\s+│ \w{3} \d{4}-\d{2}-01 09:00 \(GMT\+09:00\)/, 'next runs in the new zone');
  const shown = json<Schedule>((await hookrelay(['schedules', 'show', schedule.id, '--json'])).stdout);
  t.match(shown, { cron: '0 9 1 * *', timezone: 'Asia/Tokyo', name: 'twice a year' });
  t.strictSame(shown.job, { type: 'echo', input: { monthly: true } }, 'the job replaced whole');
  const partial = await hookrelay(['schedules', 'update', schedule.id, '--input', '{}']);
  t.equal(partial.code, 1);
  t.match(partial.stderr, 'give --type');
  const nothing = await hookrelay(['schedules', 'update', schedule.id]);
  t.equal(nothing.code, 1);
  t.match(nothing.stderr, 'nothing to change');
  const refused = await hookrelay(['schedules', 'update', schedule.id, '--timezone', 'Mars/Olympus']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, 'body.timezone');
  // Back as the tests below expect it.
  const restored = await hookrelay([
    'schedules',
    'update',
    schedule.id,
    '--cron',
    CRON,
    '--timezone',
    'Europe/Berlin',
    '--type',
    'echo',
    '--input',
    JSON.stringify(schedule.job.input),
  ]);
  t.equal(restored.code, 0, restored.stderr);
});

t.test('trigger: a job now, made by the schedule', async (t) => {
  const triggered = await hookrelay(['schedules', 'trigger', schedule.id]);
  t.equal(triggered.code, 0, triggered.stderr);
  t.match(triggered.stdout, /^job_\w+\n$/, 'only the job id on stdout');
  const jobId = triggered.stdout.trim();
  t.match(triggered.stderr, `hookrelay jobs watch ${jobId}`);

  const job = json<{ id: string; type: string; scheduleId: string | null }>(
    (await hookrelay(['jobs', 'show', jobId, '--json'])).stdout,
  );
  t.match(job, { id: jobId, type: 'echo', scheduleId: schedule.id });

  const shown = await hookrelay(['schedules', 'show', schedule.id]);
  t.match(shown.stdout, new RegExp(`│ ${jobId} │ \\w+\\s+│ \\d{4}-`), 'among its recent jobs');
  t.match(shown.stdout, new RegExp(`lastJobId\\s+│ ${jobId}`));
  const asJson = json<Schedule>((await hookrelay(['schedules', 'show', schedule.id, '--json'])).stdout);
  t.match(asJson.recentJobs, [{ id: jobId, scheduleId: schedule.id }]);

  const second = await hookrelay(['schedules', 'trigger', schedule.id, '--json']);
  t.equal(second.code, 0, second.stderr);
  t.match(json(second.stdout), { jobId: /^job_/ });
});

t.test('delete: gone, its jobs stay', async (t) => {
  const deleted = await hookrelay(['schedules', 'delete', schedule.id, '--json']);
  t.equal(deleted.code, 0, deleted.stderr);
  t.same(json(deleted.stdout), { deleted: schedule.id });
  const gone = await hookrelay(['schedules', 'show', schedule.id]);
  t.equal(gone.code, 1);
  t.match(gone.stderr, /Not Found \(404\)/);
  t.match(gone.stderr, schedule.id);
  t.notMatch((await hookrelay(['schedules', 'list'])).stdout, schedule.id);
  const again = await hookrelay(['schedules', 'delete', schedule.id]);
  t.equal(again.code, 1, 'deleting it twice is a 404');
  const jobs = await hookrelay(['jobs', 'list', '--json']);
  t.equal(json<{ data: unknown[] }>(jobs.stdout).data.length, 2, 'the triggered jobs stay');
});

t.test('a bad cron, an unknown zone and bad options: a clear error and exit 1', async (t) => {
  const create = (...args: string[]) => hookrelay(['schedules', 'create', '--type', 'echo', ...args]);

  const badCron = await create('--cron', '61 9 * * *');
  t.equal(badCron.code, 1);
  t.match(badCron.stderr, /^hookrelay: Bad Request \(400\): The cron expression is not valid\./);
  t.match(badCron.stderr, /\n {2}body\.cron: .+/, 'with why, by path');
  const sixFields = await create('--cron', '*/5 * * * * *');
  t.equal(sixFields.code, 1);
  t.match(sixFields.stderr, /body\.cron: must have 5 fields/);
  const zone = await create('--cron', '@daily', '--timezone', 'Mars/Olympus');
  t.equal(zone.code, 1);
  t.match(zone.stderr, /body\.timezone: must be an IANA time zone name/);
  const type = await hookrelay(['schedules', 'create', '--cron', '@daily', '--type', 'nope']);
  t.equal(type.code, 1);
  t.match(type.stderr, /\(422\)/, 'a template POST /v1/jobs would refuse');

  const noCron = await create();
  t.not(noCron.code, 0);
  t.match(noCron.stderr, /--cron/);
  const overlap = await create('--cron', '@daily', '--overlap', 'sometimes');
  t.not(overlap.code, 0);
  t.match(overlap.stderr, /Allowed choices are skip, allow/);
  const input = await create('--cron', '@daily', '--input', '{not json');
  t.equal(input.code, 1);
  t.match(input.stderr, /--input is not valid JSON/);
  const inputFile = await create('--cron', '@daily', '--input-file', '/nonexistent/input.json');
  t.equal(inputFile.code, 1);
  t.match(inputFile.stderr, /cannot read --input-file \/nonexistent\/input\.json: ENOENT/);
  const both = await create(
    '--cron',
    '@daily',
    '--callback-url',
    'http://127.0.0.1:9/',
    '--endpoint',
    'ep_x',
  );
  t.equal(both.code, 1);
  t.match(both.stderr, /\(400\)/);

  const unknown = await hookrelay(['schedules', 'pause', 'sch_01JAAAAAAAAAAAAAAAAAAAAAAA']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /Not Found \(404\)/);
  const notAnId = await hookrelay(['schedules', 'trigger', 'job_123']);
  t.equal(notAnId.code, 1);
  t.match(notAnId.stderr, /\(400\)/);
  const listed = json<{ data: unknown[] }>((await hookrelay(['schedules', 'list', '--json'])).stdout);
  t.equal(listed.data.length, 1, 'nothing was created but the paused one');
});
