// `hookrelay endpoints`: register receivers, change them, rotate their secret, send a test event, and see what
// holds their deliveries back (concurrency, a Retry-After pause, blocked ordering keys).
import { type Command, Option } from 'commander';
import { type ListOptions, printList, withPaging } from '../client/lists.ts';
import { excerpt, printJson, printRecord, printTable, say, UsageError } from '../client/output.ts';
import { action, countOption, type Session, session } from '../client/session.ts';

interface Endpoint {
  id: string;
  url: string;
  description: string;
  eventTypes: string[] | null;
  rateLimitPerSecond: number | null;
  disabled: boolean;
  maxConcurrency: number;
  adaptiveConcurrency: boolean;
  concurrency: { limit: number; inFlight: number };
  pausedUntil: string | null;
  createdAt: string;
  secret: string;
}

/** An ordering key whose head message failed and holds the rest (GET /v1/endpoints/:id/ordering-keys). */
interface BlockedKey {
  orderingKey: string;
  pending: number;
  head: {
    messageId: string;
    jobId: string | null;
    attemptCount: number;
    lastError: string | null;
    lastResponseStatus: number | null;
    nextAttemptAt: string | null;
    createdAt: string;
  };
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
  maxConcurrency?: string;
  adaptiveConcurrency?: boolean;
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
    .option(
      '--max-concurrency <n>',
      'at most this many attempts in flight to it, across worker processes (1-1000; default DELIVERY_ENDPOINT_CONCURRENCY)',
    )
    .option(
      '--adaptive-concurrency',
      'let the limit adapt between 1 and --max-concurrency to its answers (the default)',
    )
    .option('--no-adaptive-concurrency', 'keep the limit fixed at --max-concurrency')
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
    ...(options.maxConcurrency !== undefined && {
      maxConcurrency: countOption('--max-concurrency', options.maxConcurrency),
    }),
    ...(options.adaptiveConcurrency !== undefined && { adaptiveConcurrency: options.adaptiveConcurrency }),
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

/** "3 in flight, limit 8 of max 25 (adaptive)": the concurrency fields as one line, for people. */
const concurrencyLine = (endpoint: Endpoint) =>
  `${endpoint.concurrency.inFlight} in flight, limit ${endpoint.concurrency.limit} of max ${endpoint.maxConcurrency} (${endpoint.adaptiveConcurrency ? 'adaptive' : 'fixed'})`;

/**
 * An endpoint as a record for people: its concurrency fields as two lines ("concurrency", "paused until") where
 * the raw ones were, after its state.
 */
function forPeople(endpoint: Endpoint, options: { reveal?: boolean }): object {
  const { maxConcurrency, adaptiveConcurrency, concurrency, pausedUntil, ...rest } = printable(
    endpoint,
    options,
    false,
  ) as Endpoint;
  return Object.fromEntries(
    Object.entries(rest).flatMap(([name, value]) =>
      name === 'disabled'
        ? [
            [name, value],
            ['concurrency', concurrencyLine(endpoint)],
            ['paused until', pausedUntil ?? 'not paused'],
          ]
        : [[name, value]],
    ),
  );
}

function printBlockedKeys(keys: BlockedKey[]): void {
  printTable(
    keys,
    [
      ['blocked key', (k) => k.orderingKey],
      ['pending', (k) => k.pending],
      ['head message', (k) => k.head.messageId],
      ['attempts', (k) => k.head.attemptCount],
      // The head's last answer, else why there was none (a timeout, a refused connection).
      ['last', (k) => k.head.lastResponseStatus ?? excerpt(k.head.lastError, 40)],
      ['next attempt', (k) => k.head.nextAttemptAt ?? '-'],
    ],
    'no blocked ordering keys',
  );
}

async function blockedKeys(s: Session, id: string, limit: number | undefined) {
  return (await s.api.call<{ data: BlockedKey[] }>('GET', path(id, '/ordering-keys'), { query: { limit } }))
    .data;
}

/** The most blocked keys `endpoints show` lists; `endpoints keys` lists up to 100. */
const SHOWN_KEYS = 10;

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
        printRecord(forPeople(created, { reveal: true }));
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
    .description(
      'one endpoint: its success rate over the last 24 hours, its concurrency now and its blocked ordering keys (the secret masked)',
    )
    .option(...REVEAL)
    .addHelpText(
      'after',
      '\nExamples:\n  $ hookrelay endpoints show ep_01J…\n  $ hookrelay endpoints show ep_01J… --reveal --json | jq -r .secret',
    )
    .action(
      action(async (id: string, options: { reveal?: boolean }, command: Command) => {
        const s = session(command);
        const [endpoint, stats, keys] = await Promise.all([
          s.api.call<Endpoint>('GET', path(id)),
          s.api.call<Stats>('GET', path(id, '/stats')),
          // For people, one more than shown, to know whether there are more; for scripts, as many as one call gives.
          blockedKeys(s, id, s.json ? 100 : SHOWN_KEYS + 1),
        ]);
        if (s.json) return printJson({ ...printable(endpoint, options, true), stats, blockedKeys: keys });
        printRecord({ ...forPeople(endpoint, options), 'success rate': rate(stats) });
        printBlockedKeys(keys.slice(0, SHOWN_KEYS));
        if (keys.length > SHOWN_KEYS)
          say(`more blocked keys: hookrelay endpoints keys ${endpoint.id} --limit 100`);
      }),
    );

  endpoints
    .command('keys <id>')
    .description(
      "the endpoint's blocked ordering keys, oldest first: each one's head message failed and holds the rest until it is delivered or dead-lettered",
    )
    .option('--limit <n>', 'at most this many keys (1-100)', '50')
    .addHelpText(
      'after',
      "\nExamples:\n  $ hookrelay endpoints keys ep_01J…\n  $ hookrelay messages list --ordering-key order-42 --status pending   # one key's queue",
    )
    .action(
      action(async (id: string, options: { limit: string }, command: Command) => {
        const s = session(command);
        const keys = await blockedKeys(s, id, countOption('--limit', options.limit));
        if (s.json) return printJson({ data: keys });
        printBlockedKeys(keys);
      }),
    );

  withFields(
    endpoints.command('update <id>').description('change an endpoint (options not given keep their value)'),
  )
    .option('--set-url <url>', 'a new URL for the endpoint (--url names the service)')
    .addOption(new Option('--enabled', 'send to it again').conflicts('disabled'))
    .option(...REVEAL)
    .addHelpText(
      'after',
      '\nExamples:\n  $ hookrelay endpoints update ep_01J… --enabled --rate-limit 50\n  $ hookrelay endpoints update ep_01J… --max-concurrency 4 --no-adaptive-concurrency',
    )
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
          printRecord(forPeople(updated, options));
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
