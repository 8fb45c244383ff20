// The peer of `npm run bench`: the pipeline a user would build from the packages hookrelay is built on, by the
// book and nothing more, run as its own process. Fastify takes POST /v1/jobs and sends the job to a pg-boss
// queue (`execute`); a pg-boss worker runs it (an echo: the input is the result) and queues its webhook
// (`deliver`); another posts each webhook with undici, signed the Standard Webhooks way, and fails the batch
// for pg-boss to retry if any post was not a 2xx. Both queues notify their workers, which fetch in batches and
// keep fetching while batches come back full (`burstWhenBatchFull`). What it leaves out, which hookrelay
// does: job, message and attempt records (no status API, no history), per-receiver concurrency, idempotency,
// tenants, outbound address checks.
//
// Started by bench/run.ts with DATABASE_URL (a fresh database), PEER_RECEIVER_URL, PEER_SECRET and PEER_KEY
// (the bearer token it accepts); prints one JSON line {"msg":"peer ready","url":…} once it listens.
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { PgBoss } from 'pg-boss';
import { Pool } from 'undici';
import { signatureHeader } from '../src/delivery/sign.ts';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const receiverUrl = new URL(env('PEER_RECEIVER_URL'));
const secret = env('PEER_SECRET');
const key = env('PEER_KEY');

/** What a job queue entry carries, and what a delivery entry does. */
interface Execute {
  type: string;
  input: unknown;
}
interface Deliver {
  jobId: string;
  body: string;
}

/** Fetch size and workers per queue: pg-boss's batches, a few in flight, as its docs suggest for throughput. */
const WORK = { batchSize: 25, localConcurrency: 2, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 };

const boss = new PgBoss({ connectionString: env('DATABASE_URL'), max: 10, useListenNotify: true });
boss.on('error', (error) => console.error(JSON.stringify({ msg: 'pg-boss error', err: String(error) })));
await boss.start();
const retries = { retryLimit: 5, retryDelay: 1, retryBackoff: true };
await boss.createQueue('execute', { notify: true, ...retries });
await boss.createQueue('deliver', { notify: true, ...retries });

const receiver = new Pool(receiverUrl.origin, {
  connections: 25,
  headersTimeout: 30_000,
  bodyTimeout: 30_000,
});

await boss.work<Execute>('execute', WORK, async (jobs) => {
  await boss.insert(
    'deliver',
    jobs.map((job) => ({
      data: {
        jobId: job.id,
        body: JSON.stringify({
          type: 'job.succeeded',
          timestamp: new Date().toISOString(),
          data: { jobId: job.id, jobType: job.data.type, status: 'succeeded', result: job.data.input },
        }),
      } satisfies Deliver,
    })),
  );
});

await boss.work<Deliver>('deliver', WORK, async (jobs) => {
  const sent = await Promise.allSettled(
    jobs.map(async ({ id, data }) => {
      const timestamp = Math.floor(Date.now() / 1000);
      const response = await receiver.request({
        method: 'POST',
        path: receiverUrl.pathname,
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signatureHeader([secret], id, timestamp, data.body),
          'x-job-id': data.jobId,
        },
        body: data.body,
      });
      await response.body.dump();
      if (response.statusCode < 200 || response.statusCode > 299) throw new Error(`${response.statusCode}`);
    }),
  );
  // The whole batch is retried: at-least-once, the same webhook-id (the delivery job's id) each time.
  const failed = sent.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
});

const app = Fastify();
app.post<{ Body: Execute & { endpointId?: string } }>(
  '/v1/jobs',
  {
    schema: {
      body: {
        type: 'object',
        required: ['type', 'input'],
        properties: { type: { type: 'string', minLength: 1 }, input: {}, endpointId: { type: 'string' } },
      },
    },
  },
  async (request, reply) => {
    if (request.headers.authorization !== `Bearer ${key}`)
      return reply.code(401).send({ title: 'unauthorized' });
    const id = randomUUID();
    await boss.send('execute', { type: request.body.type, input: request.body.input }, { id });
    return reply.code(202).send({ id });
  },
);
const url = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
console.log(JSON.stringify({ msg: 'peer ready', url }));

process.once('SIGTERM', async () => {
  await app.close();
  await boss.stop({ graceful: true, timeout: 10_000 });
  await receiver.close();
  process.exit(0);
});
