// A webhook receiver for trying hookrelay locally: verifies each delivery's Standard Webhooks signature with
// the independent `standardwebhooks` package and prints it. Run: WEBHOOK_SECRET=whsec_… npm run receiver
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const secret = process.env.WEBHOOK_SECRET;
if (!secret) {
  process.stderr.write(
    'Set WEBHOOK_SECRET to the endpoint secret (whsec_…) the receiver should verify with.\n',
  );
  process.exit(2);
}
const port = Number(process.env.RECEIVER_PORT ?? 4000);
const webhook = new Webhook(secret);

http
  .createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      try {
        const event = webhook.verify(body, request.headers as Record<string, string>) as {
          type: string;
          data: unknown;
        };
        console.log(`verified ${request.headers['webhook-id']} ${event.type} ${JSON.stringify(event.data)}`);
        response.writeHead(204).end();
      } catch (error) {
        console.log(`REJECTED ${request.headers['webhook-id']}: ${(error as Error).message}`);
        response.writeHead(400).end();
      }
    });
  })
  .listen(port, '127.0.0.1', () => console.log(`receiving on http://127.0.0.1:${port}/hook`));
