// `hookrelay listen`: a local receiver for trying deliveries. Prints each webhook as it arrives, verifies its
// signature with the independent `standardwebhooks` package, and answers with a chosen status (to exercise
// retries and dead letters).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Command, InvalidArgumentError } from 'commander';
import { Webhook } from 'standardwebhooks';
import { excerpt, jsonText, printable, say } from '../client/output.ts';

interface ListenOptions {
  port: number;
  host: string;
  secret?: string;
  status: number;
  json?: boolean;
  body?: boolean;
}

interface Event {
  type?: string;
  timestamp?: string;
  data?: { jobId?: string };
}

const integer = (min: number, max: number) => (text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be ${min}–${max}`);
  return n;
};

function verdict(webhook: Webhook | undefined, body: string, headers: http.IncomingHttpHeaders) {
  if (!webhook) return { verified: false, problem: 'not checked (no --secret)' };
  try {
    webhook.verify(body, headers as Record<string, string>);
    return { verified: true, problem: undefined };
  } catch (error) {
    return { verified: false, problem: (error as Error).message };
  }
}

export function listenCommand(program: Command): void {
  program
    .command('listen')
    .description('receive webhooks locally: print each one, verify its signature, answer with --status')
    .option('--port <port>', 'port to listen on (0: any free one)', integer(0, 65_535), 4000)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--secret <whsec>', 'the endpoint (or tenant) signing secret to verify with (env WEBHOOK_SECRET)')
    .option(
      '--status <code>',
      'HTTP status to answer with (e.g. 500 or 410 to see retries and dead letters)',
      integer(100, 599),
      204,
    )
    .option('--body', 'print each webhook body too')
    .addHelpText(
      'after',
      '\nExamples:\n  $ hookrelay listen --secret whsec_…            # then register http://127.0.0.1:4000/hook\n  $ hookrelay listen --secret whsec_… --status 503   # every delivery fails and is retried',
    )
    .action((_options: ListenOptions, command: Command) => {
      // --json is the program's (every command takes it): one JSON object per webhook.
      const options = command.optsWithGlobals<ListenOptions>();
      const secret = options.secret ?? process.env.WEBHOOK_SECRET;
      const webhook = secret ? new Webhook(secret) : undefined;
      const seen = new Map<string, number>();
      const server = http.createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          const id = String(request.headers['webhook-id'] ?? '');
          // The message's own attempt number, which hookrelay sends; a sender without it is counted here (the same
          // webhook-id again is a retry or a replay), which a restarted listener would start again from 1.
          const sent = Number(request.headers['webhook-attempt']);
          const attempt = Number.isInteger(sent) && sent > 0 ? sent : (seen.get(id) ?? 0) + 1;
          seen.set(id, attempt);
          let event: Event = {};
          try {
            event = JSON.parse(body) as Event;
          } catch {
            // Not JSON: printed as it is, and it will not verify either.
          }
          const sentAt = event.timestamp ? Date.parse(event.timestamp) : Number.NaN;
          const latencyMs = Number.isNaN(sentAt) ? null : Date.now() - sentAt;
          const { verified, problem } = verdict(webhook, body, request.headers);
          response.writeHead(options.status).end();
          if (options.json) {
            process.stdout.write(
              `${jsonText({ webhookId: id, type: event.type, jobId: event.data?.jobId, attempt, latencyMs, verified, problem, status: options.status, ...(options.body && { body: event }) })}\n`,
            );
            return;
          }
          const parts = [
            new Date().toISOString(),
            event.type ?? '(no type)',
            event.data?.jobId ?? '-',
            id || '(no webhook-id)',
            `attempt ${attempt}`,
            latencyMs === null ? '' : `${latencyMs} ms after the event`,
            verified ? 'verified' : `NOT VERIFIED: ${problem}`,
            `→ ${options.status}`,
          ];
          process.stdout.write(`${printable(parts.filter(Boolean).join('  '))}\n`);
          if (options.body) process.stdout.write(`  ${excerpt(body, 2000)}\n`);
        });
      });
      server.on('error', (error: NodeJS.ErrnoException) => {
        const why = error.code === 'EADDRINUSE' ? 'the address is in use' : error.message;
        say(`hookrelay: cannot listen on ${options.host}:${options.port}: ${why}`);
        process.exit(1);
      });
      server.listen(options.port, options.host, () => {
        const { port } = server.address() as AddressInfo;
        say(
          `listening on http://${options.host}:${port}/ (any path)${webhook ? '' : '; no --secret: signatures are not checked'}`,
        );
      });
      const stop = () => server.close(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
