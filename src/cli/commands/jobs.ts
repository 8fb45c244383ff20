// `hookrelay jobs`: submit, show, list, cancel, and watch a job's progress live.
import fs from 'node:fs/promises';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { createParser } from 'eventsource-parser';
import type { ApiClient } from '../client/api.ts';
import { type ListOptions, printList, withPaging } from '../client/lists.ts';
import { excerpt, jsonText, printable, printJson, printRecord, say, UsageError } from '../client/output.ts';
import { action, countOption, jsonOption, session, timeOption } from '../client/session.ts';
import { listJobTypes } from './job-types.ts';

interface Job {
  id: string;
  type: string;
  status: string;
  progress: { percent: number; message: string | null };
  attempts: number;
  maxAttempts: number;
  result: unknown;
  error: string | null;
  orderingKey: string | null;
  createdAt: string;
  completedAt: string | null;
}

/** The job's fields as options: `jobs submit` and `schedules create` (a schedule's job template) take the same. */
export interface JobFieldOptions {
  input?: string;
  inputFile?: string;
  callbackUrl?: string;
  endpoint?: string;
  timeout?: string;
  maxAttempts?: string;
  priority?: string;
  metadata?: string;
  orderingKey?: string;
}

interface SubmitOptions extends JobFieldOptions {
  runAt?: string;
  idempotencyKey?: string;
  watch?: boolean;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
const path = (id: string, rest = '') => `/v1/jobs/${encodeURIComponent(id)}${rest}`;

/** Adds the job's field options (JobFieldOptions) to a command; `jobFields` reads them. */
export function withJobFields(command: Command): Command {
  return command
    .option('--input <json>', 'the job input, as JSON', undefined)
    .option('--input-file <file>', 'read the job input from a JSON file')
    .option('--callback-url <url>', 'deliver the result here (signed with the tenant secret)')
    .option('--endpoint <id>', 'deliver the result to this endpoint')
    .option('--timeout <seconds>', 'time limit of one attempt')
    .option('--max-attempts <n>', 'attempts before the job fails')
    .option('--priority <n>', 'higher runs first (-100 to 100)')
    .option('--metadata <json>', 'an object kept with the job and sent with its webhooks')
    .option(
      '--ordering-key <key>',
      'jobs with the same key run one at a time in submission order, and their webhooks reach each receiver in that order',
    );
}

async function inputFrom(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --input-file ${file}: ${(error as Error).message}`);
  }
}

/** The job as POST /v1/jobs takes it (and a schedule's `job`), from its type and the options. */
export async function jobFields(type: string, options: JobFieldOptions) {
  if (options.input !== undefined && options.inputFile !== undefined)
    throw new UsageError('give --input or --input-file, not both');
  const input =
    options.inputFile !== undefined
      ? jsonOption('--input-file', await inputFrom(options.inputFile))
      : (jsonOption('--input', options.input) ?? {});
  const priority = options.priority === undefined ? undefined : Number(options.priority);
  if (priority !== undefined && !Number.isInteger(priority))
    throw new UsageError('--priority must be an integer');
  return {
    type,
    input,
    ...(options.callbackUrl !== undefined && { callbackUrl: options.callbackUrl }),
    ...(options.endpoint !== undefined && { endpointId: options.endpoint }),
    ...(options.timeout !== undefined && { timeoutSeconds: countOption('--timeout', options.timeout) }),
    ...(options.maxAttempts !== undefined && {
      maxAttempts: countOption('--max-attempts', options.maxAttempts),
    }),
    ...(priority !== undefined && { priority }),
    ...(options.metadata !== undefined && { metadata: jsonOption('--metadata', options.metadata) }),
    ...(options.orderingKey !== undefined && { orderingKey: options.orderingKey }),
  };
}

async function submitBody(type: string, options: SubmitOptions) {
  return {
    ...(await jobFields(type, options)),
    ...(options.runAt !== undefined && { runAt: timeOption('--run-at', options.runAt) }),
  };
}

/**
 * Follows a job's event stream until its terminal event, drawing its progress: a bar on a terminal, a line
 * per change otherwise. Returns the job as it ended.
 */
async function watchJob(api: ApiClient, id: string, json: boolean): Promise<Job> {
  const stream = await api.stream(path(id, '/events'));
  const bar =
    process.stderr.isTTY && !json
      ? new cliProgress.SingleBar(
          { format: '{bar} {percentage}% | {status} | {message}', hideCursor: true },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  let last: Job | undefined;
  const show = (job: Job) => {
    if (json) return process.stdout.write(`${jsonText(job)}\n`);
    const fields = { status: job.status, message: printable(job.progress.message ?? '') };
    if (!bar)
      return say(`${job.status} ${job.progress.percent}%${fields.message ? ` ${fields.message}` : ''}`);
    if (last === undefined) bar.start(100, job.progress.percent, fields);
    else bar.update(job.progress.percent, fields);
  };
  const parser = createParser({
    onEvent(event) {
      const job = JSON.parse(event.data) as Job;
      show(job);
      last = job;
    },
  });
  for await (const chunk of stream) {
    parser.feed(chunk.toString());
    if (last && TERMINAL.has(last.status)) break;
  }
  bar?.stop();
  // The stream closes after the terminal event; one that ends early (the service stopping) is read again.
  return last && TERMINAL.has(last.status) ? last : api.call<Job>('GET', path(id));
}

function summary(job: Job): void {
  if (job.status === 'succeeded')
    say(`${job.id} succeeded after ${job.attempts} attempt(s): ${excerpt(job.result, 200)}`);
  else say(`${job.id} ${job.status}${job.error ? `: ${job.error}` : ''}`);
}

export function jobCommands(program: Command): void {
  const jobs = program.command('jobs').description('submit and follow jobs');

  withJobFields(
    jobs
      .command('submit <type>')
      .description('submit a job: 202 with its id at once (or follow it with --watch)'),
  )
    .option('--run-at <time>', 'do not start before this time (RFC 3339)')
    .option('--idempotency-key <key>', 'the same key and body within 24 h return the same job')
    .option('--watch', 'follow the job until it ends; exit 1 unless it succeeds')
    .addHelpText(
      'after',
      `\n<type> is a built-in type (echo, demo.report, http), one of the service's task modules, or one of your\nown remote or push types: \`hookrelay job-types list\` (or \`hookrelay jobs types\`) lists them all with their input.\n\nExamples:\n  $ hookrelay jobs submit demo.report --input '{"steps":5,"stepMs":1000}' --watch\n  $ hookrelay jobs submit http --input '{"url":"https://example.com/slow"}' --endpoint ep_01J…\n  $ hookrelay jobs submit echo --input '{"order":42,"state":"paid"}' --endpoint ep_01J… --ordering-key order-42`,
    )
    .action(
      action(async (type: string, options: SubmitOptions, command: Command) => {
        const s = session(command);
        const accepted = await s.api.call<{ id: string; status: string; statusUrl: string }>(
          'POST',
          '/v1/jobs',
          {
            body: await submitBody(type, options),
            ...(options.idempotencyKey !== undefined && {
              headers: { 'idempotency-key': options.idempotencyKey },
            }),
          },
        );
        if (!options.watch) {
          if (s.json) return printJson(accepted);
          process.stdout.write(`${accepted.id}\n`);
          return;
        }
        const job = await watchJob(s.api, accepted.id, s.json);
        if (!s.json) summary(job);
        if (job.status !== 'succeeded') process.exitCode = 1;
      }),
    );

  jobs
    .command('show <id>')
    .description('one job: status, progress, attempts, result or error')
    .addHelpText('after', '\nExample:\n  $ hookrelay jobs show job_01J…')
    .action(
      action(async (id: string, _options: object, command: Command) => {
        const s = session(command);
        const job = await s.api.call<Job>('GET', path(id));
        if (s.json) return printJson(job);
        printRecord(job);
      }),
    );

  jobs
    .command('types')
    .description('the job types you can submit, with their input fields (the same as `job-types list`)')
    .addHelpText(
      'after',
      '\nExample:\n  $ hookrelay jobs types --json | jq \'.data[] | select(.name == "http") | .inputSchema\'',
    )
    .action(
      action(async (_options: object, command: Command) => {
        await listJobTypes(session(command));
      }),
    );

  withPaging(jobs.command('list').description('list jobs, newest first'))
    .option('--status <status>', 'queued, running, succeeded, failed or cancelled')
    .option('--type <type>', 'only jobs of this type')
    .option('--ordering-key <key>', "only this ordering key's jobs")
    .addHelpText(
      'after',
      "\nExamples:\n  $ hookrelay jobs list --status failed\n  $ hookrelay jobs list --ordering-key order-42 --status queued   # what waits behind the key's running job",
    )
    .action(
      action(
        async (
          options: ListOptions & { status?: string; type?: string; orderingKey?: string },
          command: Command,
        ) => {
          await printList<Job>(
            session(command),
            '/v1/jobs',
            { status: options.status, type: options.type, orderingKey: options.orderingKey },
            options,
            [
              ['id', (j) => j.id],
              ['type', (j) => j.type],
              ['status', (j) => j.status],
              ['progress', (j) => `${j.progress.percent}%`],
              ['attempts', (j) => `${j.attempts}/${j.maxAttempts}`],
              ['key', (j) => j.orderingKey ?? ''],
              ['created', (j) => j.createdAt],
            ],
          );
        },
      ),
    );

  jobs
    .command('cancel <id>')
    .description('cancel a queued or running job (a finished one is a conflict)')
    .addHelpText('after', '\nExample:\n  $ hookrelay jobs cancel job_01J…')
    .action(
      action(async (id: string, _options: object, command: Command) => {
        const s = session(command);
        const job = await s.api.call<Job>('POST', path(id, '/cancel'));
        if (s.json) return printJson(job);
        say(`${job.id}: ${job.status}${job.status === 'running' ? ' (cancellation requested)' : ''}`);
      }),
    );

  jobs
    .command('watch <id>')
    .description("follow a job's events and draw its progress; exit 1 unless it succeeds")
    .addHelpText('after', '\nExample:\n  $ hookrelay jobs watch job_01J…')
    .action(
      action(async (id: string, _options: object, command: Command) => {
        const s = session(command);
        const job = await watchJob(s.api, id, s.json);
        if (!s.json) summary(job);
        if (job.status !== 'succeeded') process.exitCode = 1;
      }),
    );
}
