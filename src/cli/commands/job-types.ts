// `hookrelay job-types`: the job types a tenant can submit (built-in, task modules, and its own remote and push
// types), and registering, replacing and deleting its own.
import fs from 'node:fs/promises';
import { text as streamText } from 'node:stream/consumers';
import { type Command, Option } from 'commander';
import { printJson, printRecord, printTable, say, UsageError } from '../client/output.ts';
import { action, countOption, type Session, session } from '../client/session.ts';

interface JobType {
  name: string;
  execution: 'builtin' | 'task' | 'remote' | 'push';
  inputSchema: { properties?: Record<string, { type?: unknown }>; required?: string[] };
  timeoutSeconds: number;
  heartbeatSeconds: number | null;
  url?: string;
  description?: string;
  createdAt?: string | null;
  updatedAt?: string | null;
}

interface PutOptions {
  execution: 'remote' | 'push';
  pushUrl?: string;
  schema?: string;
  timeout?: string;
  heartbeat?: string;
  description?: string;
}

const path = (name: string) => `/v1/job-types/${encodeURIComponent(name)}`;

/** An input schema's top-level fields in a line: `steps?: integer, stepMs?: integer`; anything else as "any". */
function inputFields(schema: JobType['inputSchema']): string {
  const fields = Object.entries(schema.properties ?? {});
  if (fields.length === 0) return 'any JSON';
  const required = new Set(schema.required ?? []);
  return fields
    .map(([name, field]) => `${name}${required.has(name) ? '' : '?'}: ${field.type ?? 'any'}`)
    .join(', ');
}

/** Every type the tenant can submit, as a table (or the API's `{data}` with --json). */
export async function listJobTypes(s: Session): Promise<void> {
  const types = await s.api.call<{ data: JobType[] }>('GET', '/v1/job-types');
  if (s.json) return printJson(types);
  printTable(types.data, [
    ['name', (t) => t.name],
    ['execution', (t) => t.execution],
    ['timeout', (t) => `${t.timeoutSeconds} s`],
    ['heartbeat', (t) => (t.heartbeatSeconds === null ? '-' : `${t.heartbeatSeconds} s`)],
    ['url', (t) => t.url ?? ''],
    ['input', (t) => inputFields(t.inputSchema)],
  ]);
}

/** The JSON Schema in a file (or on stdin for `-`), checked to be a JSON object before it is sent. */
async function schemaFrom(file: string): Promise<Record<string, unknown>> {
  const name = file === '-' ? '--schema - (stdin)' : `--schema ${file}`;
  let source: string;
  try {
    source = file === '-' ? await streamText(process.stdin) : await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${name}: ${(error as Error).message}`);
  }
  let schema: unknown;
  try {
    schema = JSON.parse(source);
  } catch (error) {
    throw new UsageError(`${name} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
    throw new UsageError(`${name} must hold a JSON object (a JSON Schema, draft 2020-12)`);
  return schema as Record<string, unknown>;
}

async function putBody(options: PutOptions) {
  if (options.execution === 'push' && options.pushUrl === undefined)
    throw new UsageError('--execution push needs --push-url: where each attempt is sent');
  if (options.execution === 'remote' && options.pushUrl !== undefined)
    throw new UsageError('--push-url is for --execution push; remote workers claim their jobs');
  return {
    execution: options.execution,
    ...(options.pushUrl !== undefined && { url: options.pushUrl }),
    ...(options.schema !== undefined && { inputSchema: await schemaFrom(options.schema) }),
    ...(options.timeout !== undefined && { timeoutSeconds: countOption('--timeout', options.timeout) }),
    ...(options.heartbeat !== undefined && {
      heartbeatSeconds: countOption('--heartbeat', options.heartbeat),
    }),
    ...(options.description !== undefined && { description: options.description }),
  };
}

/** One type as a record, its input schema as indented JSON (the whole of it; a table cell would cut it). */
function printJobType(type: JobType): void {
  const { inputSchema, ...rest } = type;
  printRecord({ ...rest, inputSchema: JSON.stringify(inputSchema, null, 2) });
}

export function jobTypeCommands(program: Command): void {
  const jobTypes = program
    .command('job-types')
    .description('the job types you can submit, and your own remote and push types');

  jobTypes
    .command('list')
    .description('every type: built-in, task modules, and your remote and push types')
    .addHelpText(
      'after',
      '\nExamples:\n  $ hookrelay job-types list\n  $ hookrelay job-types list --json | jq \'.data[] | select(.execution == "remote") | .name\'',
    )
    .action(
      action(async (_options: object, command: Command) => {
        await listJobTypes(session(command));
      }),
    );

  jobTypes
    .command('show <name>')
    .description('one type, with the JSON Schema its input is checked against')
    .addHelpText('after', '\nExample:\n  $ hookrelay job-types show reports.pdf')
    .action(
      action(async (name: string, _options: object, command: Command) => {
        const s = session(command);
        const type = await s.api.call<JobType>('GET', path(name));
        if (s.json) return printJson(type);
        printJobType(type);
      }),
    );

  jobTypes
    .command('put <name>')
    .description('register one of your types, or replace it whole (options not given take their defaults)')
    .addOption(
      new Option(
        '--execution <kind>',
        'remote: workers claim its jobs; push: each attempt is POSTed to a URL',
      )
        .choices(['remote', 'push'])
        .makeOptionMandatory(),
    )
    .option('--push-url <url>', 'push only: where each attempt is sent, signed (--url names the service)')
    .option('--schema <file>', "a JSON Schema (draft 2020-12) the jobs' input must match; - reads stdin")
    .option('--timeout <seconds>', "an attempt's time limit, whatever its heartbeats (1-86400, default 3600)")
    .option(
      '--heartbeat <seconds>',
      'a worker that reports nothing this long loses the job (5-600, default 30)',
    )
    .option('--description <text>', 'what the type does')
    .addHelpText(
      'after',
      '\nExamples:\n  $ hookrelay job-types put reports.pdf --execution remote --schema report.schema.json --heartbeat 60\n  $ hookrelay job-types put thumbnails --execution push --push-url https://media.example.com/hookrelay\n  $ generate-schema | hookrelay job-types put exports.csv --execution remote --schema -',
    )
    .action(
      action(async (name: string, options: PutOptions, command: Command) => {
        const s = session(command);
        const { status, body: type } = await s.api.exchange<JobType>('PUT', path(name), {
          body: await putBody(options),
        });
        if (s.json) printJson(type);
        else printJobType(type);
        say(`${status === 201 ? 'created' : 'updated'} job type ${type.name}`);
      }),
    );

  jobTypes
    .command('delete <name>')
    .description('delete one of your types (refused while it has queued or running jobs)')
    .addHelpText('after', '\nExample:\n  $ hookrelay job-types delete reports.pdf')
    .action(
      action(async (name: string, _options: object, command: Command) => {
        const s = session(command);
        await s.api.call('DELETE', path(name));
        if (s.json) return printJson({ deleted: name });
        say(`deleted job type ${name}`);
      }),
    );
}
