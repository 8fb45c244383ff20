// What every client command starts from: the API client built from --url/--key (or the environment) and
// whether to print JSON.
import { type Command, Option } from 'commander';
import { parseDuration } from '../../config/duration.ts';
import { type ApiClient, apiClient } from './api.ts';
import { fail, UsageError } from './output.ts';

export interface Session {
  api: ApiClient;
  json: boolean;
}

interface GlobalOptions {
  url: string;
  key?: string;
  json?: boolean;
}

const DEFAULT_URL = 'http://127.0.0.1:3000';

/**
 * The options every client command takes, on the program itself: they work before the command or after it
 * (`hookrelay --url … jobs list`, `hookrelay jobs list --url …`).
 */
export function withConnection(program: Command): Command {
  return program
    .addOption(
      // The help says which URL a command will call: HOOKRELAY_URL's value when it is set.
      new Option('--url <url>', 'client commands: the hookrelay service to call (env HOOKRELAY_URL)').default(
        process.env.HOOKRELAY_URL ?? DEFAULT_URL,
        process.env.HOOKRELAY_URL ? `${process.env.HOOKRELAY_URL}, from HOOKRELAY_URL` : DEFAULT_URL,
      ),
    )
    .addOption(
      new Option(
        '--key <key>',
        'client commands: a tenant API key, or the operator key for admin commands',
      ).env('HOOKRELAY_API_KEY'),
    )
    .option('--json', 'print JSON instead of tables')
    .configureHelp({ showGlobalOptions: true });
}

export function session(command: Command): Session {
  const options = command.optsWithGlobals<GlobalOptions>();
  const key = options.key;
  if (!key) fail(new UsageError('no API key: pass --key or set HOOKRELAY_API_KEY'));
  return { api: apiClient({ url: options.url, key }), json: options.json === true };
}

/** Runs a command's work, turning every failure into a message and exit code 1. */
export function action<A extends unknown[]>(work: (...args: A) => Promise<void>) {
  return (...args: A) => work(...args).catch(fail);
}

/** Parses a JSON option value, naming the option when it is not JSON. */
export function jsonOption(name: string, value: string | undefined): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    throw new UsageError(`${name} is not valid JSON: ${value.slice(0, 80)}`);
  }
}

/** A time for a filter: RFC 3339 as it is, or a duration ("90m", "2h", "7d") meaning that long ago. */
export function timeOption(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const ago = parseDuration(value);
  if (ago !== undefined) return new Date(Date.now() - ago).toISOString();
  const date = new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new UsageError(`${name} must be a time (RFC 3339) or a duration like 2h`);
  return date.toISOString();
}

/** A whole-number option (0 or more). */
export function countOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} must be a whole number`);
  return n;
}
