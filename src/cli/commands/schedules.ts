// `hookrelay schedules`: recurring jobs (a cron expression read in a time zone), their next runs in that zone
// and the local one, pausing, resuming, triggering one now, and the jobs they made.
import { type Command, Option } from 'commander';
import { type ListOptions, printList, withPaging } from '../client/lists.ts';
import { printJson, printRecord, printTable, say, UsageError } from '../client/output.ts';
import { action, type Session, session } from '../client/session.ts';
import { type JobFieldOptions, jobFields, withJobFields } from './jobs.ts';

interface Schedule {
  id: string;
  name: string | null;
  cron: string;
  timezone: string;
  job: Record<string, unknown>;
  overlap: 'skip' | 'allow';
  paused: boolean;
  nextRuns: string[];
  lastRunAt: string | null;
  lastJobId: string | null;
  lastError: string | null;
  occurrences: { fired: number; skipped: number };
  createdAt: string;
  updatedAt: string;
}

interface ScheduleJob {
  id: string;
  status: string;
  createdAt: string;
}

interface CreateOptions extends JobFieldOptions {
  cron: string;
  timezone?: string;
  type: string;
  name?: string;
  overlap?: 'skip' | 'allow';
  paused?: boolean;
}

const path = (id: string, rest = '') => `/v1/schedules/${encodeURIComponent(id)}${rest}`;

/** Formatters by zone: the same few zones format every row. */
const clocks = new Map<string, Intl.DateTimeFormat | null>();

function clockOf(zone: string): Intl.DateTimeFormat | null {
  let clock = clocks.get(zone);
  if (clock === undefined) {
    try {
      clock = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        weekday: 'short',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        timeZoneName: 'longOffset',
      });
    } catch {
      // A zone this machine's time zone data does not know (older than the service's): ISO times instead.
      clock = null;
    }
    clocks.set(zone, clock);
  }
  return clock;
}

/** A time as a clock in the zone reads it: `Thu 2026-01-01 09:00 (GMT+01:00)`. */
function wallClock(time: string, zone: string): string {
  const clock = clockOf(zone);
  if (!clock) return time;
  const part = Object.fromEntries(clock.formatToParts(new Date(time)).map((p) => [p.type, p.value]));
  return `${part.weekday} ${part.year}-${part.month}-${part.day} ${part.hour}:${part.minute} (${part.timeZoneName})`;
}

/** The zone of the machine running the command (TZ when it is set). */
const localZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

/**
 * A schedule as a record, then its next runs in its own zone and in the local one (none while paused), then
 * the recent jobs it made when they were asked for.
 */
function printSchedule(schedule: Schedule, jobs?: ScheduleJob[]): void {
  const { nextRuns, ...rest } = schedule;
  const { fired, skipped } = schedule.occurrences;
  printRecord({ ...rest, occurrences: `${fired} fired, ${skipped} skipped` });
  const local = localZone();
  printTable(
    nextRuns,
    [
      ['next run', (run) => nextRuns.indexOf(run) + 1],
      [`in ${schedule.timezone}`, (run) => wallClock(run, schedule.timezone)],
      [`local (${local})`, (run) => wallClock(run, local)],
    ],
    schedule.paused ? `no next runs: paused (hookrelay schedules resume ${schedule.id})` : 'no next runs',
  );
  if (jobs)
    printTable(
      jobs,
      [
        ['recent job', (j) => j.id],
        ['status', (j) => j.status],
        ['created', (j) => j.createdAt],
      ],
      'no jobs made yet',
    );
}

async function createBody(options: CreateOptions) {
  return {
    ...(options.name !== undefined && { name: options.name }),
    cron: options.cron,
    ...(options.timezone !== undefined && { timezone: options.timezone }),
    job: await jobFields(options.type, options),
    ...(options.overlap !== undefined && { overlap: options.overlap }),
    ...(options.paused && { paused: true }),
  };
}

interface UpdateOptions extends JobFieldOptions {
  cron?: string;
  timezone?: string;
  type?: string;
  name?: string;
  overlap?: 'skip' | 'allow';
}

const JOB_OPTIONS = [
  'input',
  'inputFile',
  'callbackUrl',
  'endpoint',
  'timeout',
  'maxAttempts',
  'priority',
  'metadata',
  'orderingKey',
];

/** What PATCH changes: the fields given; a job only with --type (it replaces the template whole). */
async function updateBody(options: UpdateOptions) {
  const jobOptions = JOB_OPTIONS.filter((name) => options[name as keyof UpdateOptions] !== undefined);
  if (options.type === undefined && jobOptions.length > 0)
    throw new UsageError('the job options replace the whole job: give --type with them');
  const body = {
    ...(options.name !== undefined && { name: options.name }),
    ...(options.cron !== undefined && { cron: options.cron }),
    ...(options.timezone !== undefined && { timezone: options.timezone }),
    ...(options.overlap !== undefined && { overlap: options.overlap }),
    ...(options.type !== undefined && { job: await jobFields(options.type, options) }),
  };
  if (Object.keys(body).length === 0) throw new UsageError('nothing to change: give at least one option');
  return body;
}

/** POSTs pause or resume and prints the schedule as it now is. */
async function setPaused(s: Session, id: string, verb: 'pause' | 'resume'): Promise<void> {
  const schedule = await s.api.call<Schedule>('POST', path(id, `/${verb}`));
  if (s.json) return printJson(schedule);
  printSchedule(schedule);
  say(`${verb === 'pause' ? 'paused' : 'resumed'} ${schedule.id}`);
}

export function scheduleCommands(program: Command): void {
  const schedules = program
    .command('schedules')
    .description('recurring jobs: a cron expression in a time zone makes a job at each occurrence');

  withJobFields(
    schedules
      .command('create')
      .description('create a schedule: the job (as `jobs submit` takes it) is made at each occurrence')
      .requiredOption(
        '--cron <expression>',
        '5 fields (minute hour day-of-month month day-of-week), or @daily, …',
      )
      .option('--timezone <zone>', 'the IANA time zone the expression is read in (default UTC)')
      .requiredOption('--type <type>', 'the job type (`hookrelay job-types list` lists them)'),
  )
    .option('--name <name>', 'what the schedule is for')
    .addOption(
      new Option(
        '--overlap <policy>',
        'skip (default): no job while the previous one is queued or running; allow: one at every occurrence',
      ).choices(['skip', 'allow']),
    )
    .option('--paused', 'create it paused: no job until `schedules resume`')
    .addHelpText(
      'after',
      `\nExamples:\n  $ hookrelay schedules create --cron "0 9 * * 1-5" --timezone Europe/Berlin --type http --input '{"url":"https://example.com/report"}' --name "weekday report"\n  $ hookrelay schedules create --cron @hourly --type echo --endpoint ep_01J… --overlap allow`,
    )
    .action(
      action(async (options: CreateOptions, command: Command) => {
        const s = session(command);
        const created = await s.api.call<Schedule>('POST', '/v1/schedules', {
          body: await createBody(options),
        });
        if (s.json) return printJson(created);
        printSchedule(created);
        say(`created schedule ${created.id}`);
      }),
    );

  withJobFields(
    schedules
      .command('update <id>')
      .description(
        'change a schedule: what is given changes; --type and the job options replace its job whole',
      )
      .option('--cron <expression>', '5 fields (minute hour day-of-month month day-of-week), or @daily, …')
      .option('--timezone <zone>', 'the IANA time zone the expression is read in')
      .option('--type <type>', 'the job type of the new job template'),
  )
    .option('--name <name>', 'what the schedule is for')
    .addOption(
      new Option(
        '--overlap <policy>',
        'skip: no job while the previous one is queued or running; allow',
      ).choices(['skip', 'allow']),
    )
    .addHelpText(
      'after',
      `\nExamples:\n  $ hookrelay schedules update sch_01J… --cron "30 8 * * 1-5"\n  $ hookrelay schedules update sch_01J… --type echo --input '{"report":"weekly"}' --endpoint ep_01J…`,
    )
    .action(
      action(async (id: string, options: UpdateOptions, command: Command) => {
        const s = session(command);
        const changed = await s.api.call<Schedule>('PATCH', path(id), { body: await updateBody(options) });
        if (s.json) return printJson(changed);
        printSchedule(changed);
        say(`updated schedule ${changed.id}`);
      }),
    );

  withPaging(schedules.command('list').description('list schedules, newest first, with their next run'))
    .addHelpText('after', '\nExample:\n  $ hookrelay schedules list --all')
    .action(
      action(async (options: ListOptions, command: Command) => {
        await printList<Schedule>(session(command), '/v1/schedules', {}, options, [
          ['id', (c) => c.id],
          ['name', (c) => c.name],
          ['cron', (c) => c.cron],
          ['timezone', (c) => c.timezone],
          ['paused', (c) => (c.paused ? 'yes' : 'no')],
          ['next run', (c) => (c.nextRuns[0] ? wallClock(c.nextRuns[0], c.timezone) : '-')],
          ['last run', (c) => (c.lastRunAt ? wallClock(c.lastRunAt, c.timezone) : '-')],
          ['fired/skipped', (c) => `${c.occurrences.fired}/${c.occurrences.skipped}`],
        ]);
      }),
    );

  schedules
    .command('show <id>')
    .description(
      'one schedule: its next runs in its zone and in the local one (TZ), and the latest jobs it made',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ hookrelay schedules show sch_01J…\n  $ TZ=America/New_York hookrelay schedules show sch_01J…   # next runs in New York time too',
    )
    .action(
      action(async (id: string, _options: object, command: Command) => {
        const s = session(command);
        // The schedule first: an unknown one is its own problem (404), not the job list's.
        const schedule = await s.api.call<Schedule>('GET', path(id));
        const jobs = await s.api.call<{ data: ScheduleJob[] }>('GET', '/v1/jobs', {
          query: { scheduleId: schedule.id, limit: 5 },
        });
        if (s.json) return printJson({ ...schedule, recentJobs: jobs.data });
        printSchedule(schedule, jobs.data);
      }),
    );

  schedules
    .command('pause <id>')
    .description('pause: no occurrence makes a job until it is resumed')
    .addHelpText('after', '\nExample:\n  $ hookrelay schedules pause sch_01J…')
    .action(
      action(async (id: string, _options: object, command: Command) => {
        await setPaused(session(command), id, 'pause');
      }),
    );

  schedules
    .command('resume <id>')
    .description('resume: occurrences from now on make jobs (those missed while paused are not made)')
    .addHelpText('after', '\nExample:\n  $ hookrelay schedules resume sch_01J…')
    .action(
      action(async (id: string, _options: object, command: Command) => {
        await setPaused(session(command), id, 'resume');
      }),
    );

  schedules
    .command('trigger <id>')
    .description("make a job from the schedule's template now, outside the cron; prints its id")
    .addHelpText(
      'after',
      '\nExamples:\n  $ hookrelay schedules trigger sch_01J…\n  $ hookrelay jobs watch $(hookrelay schedules trigger sch_01J…)',
    )
    .action(
      action(async (id: string, _options: object, command: Command) => {
        const s = session(command);
        const triggered = await s.api.call<{ jobId: string }>('POST', path(id, '/trigger'));
        if (s.json) return printJson(triggered);
        // The id is the data (stdout, for `$(…)`); the hint is for people.
        process.stdout.write(`${triggered.jobId}\n`);
        say(`triggered ${id}; follow the job with: hookrelay jobs watch ${triggered.jobId}`);
      }),
    );

  schedules
    .command('delete <id>')
    .description('delete a schedule; the jobs it made stay')
    .addHelpText('after', '\nExample:\n  $ hookrelay schedules delete sch_01J…')
    .action(
      action(async (id: string, _options: object, command: Command) => {
        const s = session(command);
        await s.api.call('DELETE', path(id));
        if (s.json) return printJson({ deleted: id });
        say(`deleted ${id}`);
      }),
    );
}
