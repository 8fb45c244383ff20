// What `import … from 'hookrelay/worker'` gives a worker program (src/worker/index.ts): from the built files in an
// installed package, from the TypeScript sources in the repository, which has no build (its tests import it too).
import { existsSync } from 'node:fs';

const source = new URL('./src/worker/index.ts', import.meta.url);
const api = await import(
  existsSync(source) ? source.href : new URL('./dist/worker/index.js', import.meta.url).href
);

export const {
  runWorker,
  PermanentJobError,
  RetryLaterError,
  TaskAbortedError,
  TaskEndedError,
  WorkerRefusedError,
} = api;
