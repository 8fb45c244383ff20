// The benchmark's webhook receiver, on its own thread so that it does not share an event loop with the load
// generator: it answers 200 at once and reports, when asked, the first arrival of each job and webhook-id.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

interface Snapshot {
  requests: number;
  /** Arrivals of a webhook-id beyond its first. */
  duplicates: number;
  /** Job id (x-job-id) → first arrival (ms since the epoch); drained by each snapshot. */
  firstByJob: Array<[string, number]>;
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  const seen = new Set<string>();
  let requests = 0;
  let duplicates = 0;
  let firstByJob: Array<[string, number]> = [];
  const server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      requests++;
      const id = String(request.headers['webhook-id']);
      if (seen.has(id)) duplicates++;
      else {
        seen.add(id);
        const job = request.headers['x-job-id'];
        if (typeof job === 'string') firstByJob.push([job, Date.now()]);
      }
      response.writeHead(200).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => port.postMessage({ port: (server.address() as AddressInfo).port }));
  port.on('message', (message: 'snapshot' | 'reset') => {
    if (message === 'reset') {
      seen.clear();
      requests = 0;
      duplicates = 0;
      firstByJob = [];
      port.postMessage('reset');
      return;
    }
    port.postMessage({ requests, duplicates, firstByJob } satisfies Snapshot);
    firstByJob = [];
  });
}

export interface BenchReceiver {
  url: string;
  /** Clears what it has seen, between scenarios. */
  reset(): Promise<void>;
  snapshot(): Promise<Snapshot>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<BenchReceiver> {
  const worker = new Worker(new URL(import.meta.url));
  const next = <T>() => new Promise<T>((resolve) => worker.once('message', resolve));
  const { port } = await next<{ port: number }>();
  return {
    url: `http://127.0.0.1:${port}`,
    async reset() {
      worker.postMessage('reset');
      await next();
    },
    async snapshot() {
      worker.postMessage('snapshot');
      return next<Snapshot>();
    },
    async close() {
      await worker.terminate();
    },
  };
}
