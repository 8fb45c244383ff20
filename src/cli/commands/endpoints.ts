// `hookrelay endpoints`: register receivers, change them, rotate their secret, send a test event.
import { type Command, Option } from 'commander';
import { type ListOptions, printList, withPaging } from '../client/lists.ts';
import { printJson, printRecord, say, UsageError } from '../client/output.ts';
import { action, countOption, session } from '../client/session.ts';

interface Endpoint {
  id: string;
  url: string;
  description: string;
  eventTypes: string[] | null;
  rateLimitPerSecond: number | null;
  disabled: boolean;
  createdAt: string;
  secret: string;
}

interface Stats {
  succeeded: number;
  failed: number;
  successRate: number | null;
}

interface FieldOptions {
  description?: string;
  eventTypes?: string;
  rateLimit?: string;
  header?: string[];
  disabled?: boolean;
}

const path = (id: string, rest = '') => `/v1/endpoints/${encodeURIComponent(id)}${rest}`;

/** The fields options shared by create and update. */
function withFields(command: Command): Command {
  return command
    .option('--description <text>', 'what the endpoint is for')
    .option('--event-types <list>', 'comma-separated event types it receives (default: every job event)')
    .option('--rate-limit <n>', 'at most this many deliveries per second')
    .option('--header <name=value...>', 'an extra header sent with every delivery (repeatable)')
    .addOption(new Option('--disabled', 'registered but not sent to').conflicts('enabled'));
}

function fieldsOf(options: FieldOptions): Record<string, unknown> {
  const headers = options.header?.map((pair) => {
    const at = pair.indexOf('=');
    if (at < 1) throw new UsageError(`--header must be name=value: ${pair}`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  });
  return {
    ...(options.description !== undefined && { description: options.description }),
    ...(options.eventTypes !== undefined && {
      eventTypes: options.eventTypes.split(',').map((e) => e.trim()),
    }),
    ...(options.rateLimit !== undefined && {
      rateLimitPerSecond: countOption('--rate-limit', options.rateLimit),
    }),
    ...(headers && { headers: Object.fromEntries(headers) }),
    ...(options.disabled && { disabled: true }),
  };
}

const rate = (stats: Stats) =>
  stats.successRate === null
    ? 'no attempts in 24 h'
    : `${(stats.successRate * 100).toFixed(1)} % of ${stats.succeeded + stats.failed} attempts in 24 h`;

/**
 * An endpoint as a command prints it: its secret only with --reveal (a terminal is often shared: a screen, a
 * recording, a colleague). For people it is masked; in JSON it is left out, so a script that wants it and did
 * not ask fails plainly instead of using a mask as a secret.
 */
function printable(endpoint: Endpoint, options: { reveal?: boolean }, json: boolean) {
  if (options.reveal) return endpoint;
  const { secret, ...rest } = endpoint;
  return json ? rest : { ...rest, secret: `${secret.slice(0, 6)}${'•'.repeat(16)} (--reveal shows it)` };
}

const REVEAL = ['--reveal', 'show the signing secret itself'] as const;

export function endpointCommands(program: Command): void {
  const endpoints = program.command('endpoints').description('the receivers webhooks go to');

  withFields(
    endpoints.command('create <url>').description('register an endpoint; its signing secret is shown'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  $ hookrelay endpoints create https://example.com/hooks --event-types job.succeeded,job.failed',
    )
    .action(
      action(async (url: string, options: FieldOptions, command: Command) => {
        const s = session(command);
        const created = await s.api.call<Endpoint>('POST', '/v1/endpoints', {
          body: { url, ...fieldsOf(options) },
        });
        if (s.json) return printJson(created);
        printRecord(created);
      }),
    );

  withPaging(endpoints.command('list').description('list endpoints, newest first'))
    .option(...REVEAL)
    .addHelpText('after', '\nExample:\n  $ hookrelay endpoints list --all')
    .action(
      action(async (options: ListOptions & { reveal?: boolean }, command: Command) => {
        const s = session(command);
        await printList<Endpoint>(
          s,
          '/v1/endpoints',
          {},
          options,
          [
            ['id', (e) => e.id],
            ['url', (e) => e.url],
            ['events', (e) => e.eventTypes?.join(',') ?? 'all'],
            ['state', (e) => (e.disabled ? 'disabled' : 'enabled')],
            ['description', (e) => e.description],
          ],
          (e) => printable(e, options, true),
        );
      }),
    );

  endpoints
    .command('show <id>')
    .description('one endpoint, with its success rate over the last 24 hours (the secret masked)')
    .option(...REVEAL)
    .addHelpText(
      'after',
      '\nExamples:\n  $ hookrelay endpoints show ep_01J…\n  $ hookrelay endpoints show ep_01J… --reveal --json | jq -r .secret',
    )
    .action(
      action(async (id: string, options: { reveal?: boolean }, command: Command) => {
        const s = session(command);
        const [endpoint, stats] = await Promise.all([
          s.api.call<Endpoint>('GET', path(id)),
          s.api.call<Stats>('GET', path(id, '/stats')),
        ]);
        if (s.json) return printJson({ ...printable(endpoint, options, true), stats });
        printRecord({ ...printable(endpoint, options, false), 'success rate': rate(stats) });
      }),
    );

  withFields(
    endpoints.command('update <id>').description('change an endpoint (options not given keep their value)'),
  )
    .option('--set-url <url>', 'a new URL for the endpoint (--url names the service)')
    .addOption(new Option('--enabled', 'send to it again').conflicts('disabled'))
    .option(...REVEAL)
    .addHelpText('after', '\nExample:\n  $ hookrelay endpoints update ep_01J… --enabled --rate-limit 50')
    .action(
      action(
        async (
          id: string,
          options: FieldOptions & { setUrl?: string; enabled?: boolean; reveal?: boolean },
          command: Command,
        ) => {
          const s = session(command);
          const body = {
            ...fieldsOf(options),
            ...(options.enabled && { disabled: false }),
            ...(options.setUrl !== undefined && { url: options.setUrl }),
          };
          if (Object.keys(body).length === 0)
            throw new UsageError('nothing to change: give at least one option');
          const updated = await s.api.call<Endpoint>('PATCH', path(id), { body });
          if (s.json) return printJson(printable(updated, options, true));
          printRecord(printable(updated, options, false));
        },
      ),
    );

  endpoints
    .command('delete <id>')
    .description('delete an endpoint; its waiting messages are dead-lettered (endpoint_deleted)')
    .addHelpText('after', '\nExample:\n  $ hookrelay endpoints delete ep_01J…')
    .action(
      action(async (id: string, _options: object, command: Command) => {
        const s = session(command);
        await s.api.call('DELETE', path(id));
        if (s.json) return printJson({ deleted: id });
        say(`deleted ${id}`);
      }),
    );

  endpoints
    .command('rotate <id>')
    .description('a new signing secret; the previous one keeps signing beside it for 24 hours')
    .addHelpText('after', '\nExample:\n  $ hookrelay endpoints rotate ep_01J…')
    .action(
      action(async (id: string, _options: object, command: Command) => {
        const s = session(command);
        const rotated = await s.api.call<{ secret: string }>('POST', path(id, '/secret/rotate'));
        if (s.json) return printJson(rotated);
        printRecord(rotated);
      }),
    );

  endpoints
    .command('test <id>')
    .description('send an endpoint.test event now')
    .addHelpText(
      'after',
      '\nExample:\n  $ hookrelay endpoints test ep_01J… && hookrelay messages show msg_01J…',
    )
    .action(
      action(async (id: string, _options: object, command: Command) => {
        const s = session(command);
        const sent = await s.api.call<{ messageId: string }>('POST', path(id, '/test'));
        if (s.json) return printJson(sent);
        // The id is the data (stdout, for `$(…)`); the hint is for people.
        process.stdout.write(`${sent.messageId}\n`);
        say(`sent endpoint.test; follow it with: hookrelay messages show ${sent.messageId}`);
      }),
    );
}
