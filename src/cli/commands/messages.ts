// `hookrelay messages`: what was sent where, every attempt, and sending one again.
import type { Command } from 'commander';
import { type ListOptions, printList, withPaging } from '../client/lists.ts';
import { excerpt, printJson, printRecord, printTable, say } from '../client/output.ts';
import { action, session } from '../client/session.ts';

interface Attempt {
  id: string;
  attemptedAt: string;
  durationMs: number;
  responseStatus: number | null;
  responseBody: string | null;
  error: string | null;
}

interface Message {
  id: string;
  jobId: string | null;
  endpointId: string | null;
  url: string;
  eventType: string;
  status: string;
  attemptCount: number;
  lastError: string | null;
  lastResponseStatus: number | null;
  nextAttemptAt: string | null;
  orderingKey: string | null;
  waiting: boolean;
  createdAt: string;
  deliveredAt: string | null;
  payload: unknown;
  attempts?: Attempt[];
}

const path = (id: string, rest = '') => `/v1/messages/${encodeURIComponent(id)}${rest}`;

export function messageCommands(program: Command): void {
  const messages = program.command('messages').description('webhooks sent, and their attempts');

  withPaging(messages.command('list').description('list messages, newest first'))
    .option('--job <id>', "only this job's messages")
    .option('--endpoint <id>', "only this endpoint's messages")
    .option('--status <status>', 'pending, delivered or dead')
    .option('--ordering-key <key>', "only this ordering key's messages (with --status pending: its queue)")
    .addHelpText(
      'after',
      '\nExamples:\n  $ hookrelay messages list --endpoint ep_01J… --status pending\n  $ hookrelay messages list --ordering-key order-42 --status pending   # "waiting": behind the one before it',
    )
    .action(
      action(
        async (
          options: ListOptions & { job?: string; endpoint?: string; status?: string; orderingKey?: string },
          command: Command,
        ) => {
          await printList<Message>(
            session(command),
            '/v1/messages',
            {
              jobId: options.job,
              endpointId: options.endpoint,
              status: options.status,
              orderingKey: options.orderingKey,
            },
            options,
            [
              ['id', (m) => m.id],
              ['event', (m) => m.eventType],
              // A pending message of an ordering key may wait for the one before it to the same receiver.
              ['status', (m) => (m.waiting ? `${m.status} (waiting)` : m.status)],
              ['key', (m) => m.orderingKey ?? ''],
              ['attempts', (m) => m.attemptCount],
              ['last', (m) => m.lastResponseStatus ?? excerpt(m.lastError, 30)],
              ['job', (m) => m.jobId],
              ['created', (m) => m.createdAt],
            ],
          );
        },
      ),
    );

  messages
    .command('show <id>')
    .description('one message and its attempts as a table')
    .addHelpText('after', '\nExample:\n  $ hookrelay messages show msg_01J…')
    .action(
      action(async (id: string, _options: object, command: Command) => {
        const s = session(command);
        const message = await s.api.call<Message>('GET', path(id));
        if (s.json) return printJson(message);
        const { attempts = [], payload, ...rest } = message;
        printRecord({ ...rest, payload: excerpt(payload, 200) });
        printTable(
          attempts,
          [
            ['#', (a) => attempts.indexOf(a) + 1],
            ['attempted', (a) => a.attemptedAt],
            ['ms', (a) => a.durationMs],
            ['status', (a) => a.responseStatus ?? '-'],
            ['error', (a) => excerpt(a.error, 40)],
            ['response', (a) => excerpt(a.responseBody, 40)],
          ],
          'no attempts yet',
        );
      }),
    );

  messages
    .command('resend <id>')
    .description('send a message again now (same webhook-id)')
    .addHelpText('after', '\nExample:\n  $ hookrelay messages resend msg_01J…')
    .action(
      action(async (id: string, _options: object, command: Command) => {
        const s = session(command);
        const answer = await s.api.call<{ messageId: string }>('POST', path(id, '/resend'));
        if (s.json) return printJson(answer);
        say(`${id} queued to be sent again`);
      }),
    );
}
