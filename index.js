// What `import … from 'hookrelay'` gives a task module (src/index.ts): from the built files in an installed
// package, from the TypeScript sources in the repository, which has no build (its examples import it too).
import { existsSync } from 'node:fs';

const source = new URL('./src/index.ts', import.meta.url);
const api = await import(existsSync(source) ? source.href : new URL('./dist/index.js', import.meta.url).href);

export const { defineTask, PermanentJobError, RetryLaterError, z } = api;
