// One pulling worker process of `npm run bench -- remote`: the TypeScript client (`hookrelay/worker`) running an
// echo handler, so that what is measured is the claim, heartbeat and report traffic, not the work. Stops
// gracefully on SIGTERM. HOOKRELAY_URL, HOOKRELAY_KEY, WORKER_TYPE, WORKER_CONCURRENCY.
import { runWorker } from 'hookrelay/worker';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const worker = runWorker({
  url: env('HOOKRELAY_URL'),
  key: env('HOOKRELAY_KEY'),
  types: [env('WORKER_TYPE')],
  concurrency: Number(env('WORKER_CONCURRENCY')),
  handler: (task) => task.input,
});
process.on('SIGTERM', () => void worker.stop({ abortAfterMs: 5_000 }));
await worker.done;
