// A receiver for scenarios and benchmarks that counts every arrival (a duplicate is a second arrival of one
// webhook-id) and can answer any status, hang, or refuse connections and come back on the same port.
import http from 'node:http';
import { freePort } from '../src/store/embedded-postgres.ts';

export interface Receiver {
  url: string;
  port: number;
  /** Arrival times (ms) per webhook-id; more than one is a duplicate. */
  arrivals: Map<string, number[]>;
  /** First arrival per job id (x-job-id), for latency from submission. */
  firstByJob: Map<string, number>;
  requests: number;
  /** How to answer: a status, or `hang` (never answer), after `delayMs`. */
  answer: { status: number | 'hang'; delayMs: number };
  /** Stops accepting connections (they are refused) until `start` again, on the same port. */
  refuse(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

const receivers = new Set<Receiver>();

export async function receiver(answer: Receiver['answer'] = { status: 200, delayMs: 0 }): Promise<Receiver> {
  const port = await freePort();
  const arrivals = new Map<string, number[]>();
  const firstByJob = new Map<string, number>();
  let server: http.Server | undefined;
  const self: Receiver = {
    url: `http://127.0.0.1:${port}`,
    port,
    arrivals,
    firstByJob,
    requests: 0,
    answer,
    async refuse() {
      const closing = server;
      server = undefined;
      if (!closing) return;
      closing.closeAllConnections();
      await new Promise((resolve) => closing.close(resolve));
    },
    async start() {
      const created = http.createServer((request, response) => {
        request.resume();
        request.on('end', () => {
          const now = Date.now();
          self.requests++;
          const id = String(request.headers['webhook-id']);
          arrivals.set(id, [...(arrivals.get(id) ?? []), now]);
          const job = String(request.headers['x-job-id']);
          if (!firstByJob.has(job)) firstByJob.set(job, now);
          const { status, delayMs } = self.answer;
          if (status === 'hang') return;
          setTimeout(() => response.writeHead(status).end(), delayMs);
        });
      });
      created.keepAliveTimeout = 30_000;
      await new Promise<void>((resolve) => created.listen(port, '127.0.0.1', resolve));
      server = created;
    },
    async close() {
      await self.refuse();
      receivers.delete(self);
    },
  };
  await self.start();
  receivers.add(self);
  return self;
}

export async function closeReceivers(): Promise<void> {
  await Promise.all([...receivers].map((r) => r.close()));
}
