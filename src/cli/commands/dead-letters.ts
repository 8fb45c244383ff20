// `hookrelay dead-letters`: what ran out of attempts, and replaying it (one, a list, or a filtered set).
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { type ApiClient, ApiError } from '../client/api.ts';
import { type ListOptions, printList, withPaging } from '../client/lists.ts';
import { type Column, excerpt, printJson, printRecord, say, UsageError } from '../client/output.ts';
import { progressBar } from '../client/progress.ts';
import { action, session, timeOption } from '../client/session.ts';

interface DeadLetter {
  id: string;
  messageId: string;
  jobId: string | null;
  endpointId: string | null;
  url: string;
  eventType: string;
  reason: string;
  attempts: number;
  lastError: string | null;
  lastResponseStatus: number | null;
  deadLetteredAt: string;
  replayedAt: string | null;
  tenantId?: string;
}

interface FilterOptions {
  endpoint?: string;
  since?: string;
  until?: string;
  reason?: string;
}

/** Dead letters replayed per request: each request is a few transactions, and the bar moves between them. */
const REPLAY_STEP = 250;
/** Replays by id in flight at once. */
const REPLAY_CONCURRENCY = 8;

const tenantColumn: Column<DeadLetter> = ['tenant', (d) => d.tenantId];

function withFilters(command: Command): Command {
  return command
    .option('--endpoint <id>', "only this endpoint's dead letters")
    .option('--since <time>', 'dead-lettered at or after (RFC 3339, or a duration ago: 2h, 7d)')
    .option('--until <time>', 'dead-lettered before (RFC 3339, or a duration ago)')
    .option('--reason <reason>', 'exhausted, gone, endpoint_disabled or endpoint_deleted');
}

const filterOf = (options: FilterOptions) => ({
  endpointId: options.endpoint,
  since: timeOption('--since', options.since),
  until: timeOption('--until', options.until),
  reason: options.reason,
});

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new UsageError(`${question} Pass --yes to confirm without a terminal.`);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await prompt.question(`${question} [y/N] `);
  prompt.close();
  return /^y(es)?$/i.test(answer.trim());
}

/** Replays the filtered set in steps, moving the bar after each; returns how many were replayed. */
async function replayFiltered(api: ApiClient, filter: ReturnType<typeof filterOf>, total: number) {
  const bar = progressBar('replaying', total);
  let replayed = 0;
  try {
    for (;;) {
      const step = await api.call<{ replayed: number }>('POST', '/v1/dead-letters/replay', {
        body: { ...filter, limit: REPLAY_STEP },
      });
      replayed += step.replayed;
      bar.atLeast(replayed);
      bar.advance(step.replayed);
      if (step.replayed < REPLAY_STEP) return replayed;
    }
  } finally {
    bar.stop();
  }
}

/**
 * Replays each id; one already replayed (409) is skipped and named, so running the same command again is safe.
 * Returns how many were replayed now.
 */
async function replayIds(api: ApiClient, ids: string[]) {
  const bar = progressBar('replaying', ids.length);
  const skipped: string[] = [];
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: Math.min(REPLAY_CONCURRENCY, ids.length) }, async () => {
        while (next < ids.length) {
          const id = ids[next++] as string;
          try {
            await api.call('POST', `/v1/dead-letters/${encodeURIComponent(id)}/replay`);
          } catch (error) {
            if (!(error instanceof ApiError && error.problem.status === 409)) throw error;
            skipped.push(`${id}: ${error.problem.detail ?? 'already replayed'}`);
          }
          bar.advance(1);
        }
      }),
    );
  } finally {
    bar.stop();
  }
  for (const line of skipped) say(`skipped ${line}`);
  return ids.length - skipped.length;
}

export function deadLetterCommands(program: Command): void {
  const letters = program
    .command('dead-letters')
    .description('messages that ran out of attempts: list, inspect, replay');

  withFilters(withPaging(letters.command('list').description('list dead letters, newest first')))
    .option('--job <id>', "only this job's dead letters")
    .option('--not-replayed', 'only those not replayed yet')
    .option('--all-tenants', "every tenant's (operator key)")
    .addHelpText(
      'after',
      '\nExample:\n  $ hookrelay dead-letters list --endpoint ep_01J… --since 24h --reason exhausted',
    )
    .action(
      action(
        async (
          options: ListOptions &
            FilterOptions & { job?: string; notReplayed?: boolean; allTenants?: boolean },
          command: Command,
        ) => {
          const query = {
            ...filterOf(options),
            jobId: options.job,
            ...(options.notReplayed && { replayed: false }),
          };
          await printList<DeadLetter>(
            session(command),
            options.allTenants ? '/v1/admin/dead-letters' : '/v1/dead-letters',
            query,
            options,
            [
              ['id', (d) => d.id],
              ...(options.allTenants ? [tenantColumn] : []),
              ['endpoint', (d) => d.endpointId ?? excerpt(d.url, 30)],
              ['event', (d) => d.eventType],
              ['reason', (d) => d.reason],
              ['attempts', (d) => d.attempts],
              ['last', (d) => d.lastResponseStatus ?? excerpt(d.lastError, 30)],
              ['dead since', (d) => d.deadLetteredAt],
              ['replayed', (d) => d.replayedAt ?? ''],
            ],
          );
        },
      ),
    );

  letters
    .command('show <id>')
    .description('one dead letter')
    .addHelpText('after', '\nExample:\n  $ hookrelay dead-letters show dl_01J…')
    .action(
      action(async (id: string, _options: object, command: Command) => {
        const s = session(command);
        const letter = await s.api.call<DeadLetter>('GET', `/v1/dead-letters/${encodeURIComponent(id)}`);
        if (s.json) return printJson(letter);
        printRecord(letter);
      }),
    );

  withFilters(
    letters
      .command('replay [ids...]')
      .description(
        'send dead letters again (same webhook-id, fresh attempt schedule): the ids given, or every one not ' +
          'replayed yet that matches the filters',
      ),
  )
    .option('--dry-run', 'only count what would be replayed')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText(
      'after',
      '\nExamples:\n  $ hookrelay dead-letters replay dl_01J… dl_01K…\n  $ hookrelay dead-letters replay --endpoint ep_01J… --since 2026-12-01T00:00:00Z --until 1h\n  $ hookrelay dead-letters replay --endpoint ep_01J… --dry-run',
    )
    .action(
      action(
        async (
          ids: string[],
          options: FilterOptions & { dryRun?: boolean; yes?: boolean },
          command: Command,
        ) => {
          const s = session(command);
          const filtered = options.endpoint ?? options.since ?? options.until ?? options.reason;
          if (ids.length > 0 && filtered) throw new UsageError('give dead-letter ids or filters, not both');
          if (ids.length === 0 && !filtered)
            throw new UsageError(
              'give dead-letter ids, or at least one of --endpoint, --since, --until, --reason',
            );
          // Timed from the first replay on: counting and the prompt are not part of the rate.
          let started: number;
          let replayed: number;
          if (ids.length > 0) {
            if (options.dryRun)
              return s.json ? printJson({ matching: ids.length }) : say(`would replay ${ids.length}`);
            started = Date.now();
            replayed = await replayIds(s.api, ids);
          } else {
            const filter = filterOf(options);
            const { matching } = await s.api.call<{ matching: number }>('POST', '/v1/dead-letters/replay', {
              body: { ...filter, dryRun: true },
            });
            if (options.dryRun)
              return s.json ? printJson({ matching }) : say(`would replay ${matching} dead letters`);
            if (matching === 0) return s.json ? printJson({ replayed: 0 }) : say('nothing to replay');
            if (!options.yes && !(await confirm(`Replay ${matching} dead letters?`)))
              return say('not replayed');
            started = Date.now();
            replayed = await replayFiltered(s.api, filter, matching);
          }
          const seconds = (Date.now() - started) / 1000;
          if (s.json) return printJson({ replayed });
          say(
            `replayed ${replayed} in ${seconds.toFixed(1)} s (${Math.round(replayed / Math.max(seconds, 0.001))}/s)`,
          );
        },
      ),
    );

  letters
    .command('discard <id>')
    .description('hide a dead letter from lists and replays (the message and its attempts stay)')
    .addHelpText('after', '\nExample:\n  $ hookrelay dead-letters discard dl_01J…')
    .action(
      action(async (id: string, _options: object, command: Command) => {
        const s = session(command);
        await s.api.call('DELETE', `/v1/dead-letters/${encodeURIComponent(id)}`);
        if (s.json) return printJson({ discarded: id });
        say(`discarded ${id}`);
      }),
    );
}
