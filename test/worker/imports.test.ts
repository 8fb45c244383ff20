// `hookrelay/worker` runs in programs that are no hookrelay server: what it loads at run time, followed from
// src/worker/index.ts through every import that is not type-only, is undici, Node's own modules, and a few small
// modules of ours that import nothing else. No pg, no fastify, no pino, no config.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';

const SRC = path.resolve(import.meta.dirname, '..', '..', 'src');
/** Value imports and re-exports; `import type` and `export type` are erased. */
const IMPORT = /^(?:import|export)\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;

t.test('the worker client loads only undici, node: modules and small modules of its own', async (t) => {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const pending = [path.join(SRC, 'worker', 'index.ts')];
  for (let file = pending.pop(); file; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    for (const [, specifier = ''] of fs.readFileSync(file, 'utf8').matchAll(IMPORT)) {
      if (specifier.startsWith('.')) {
        if (!specifier.endsWith('.json')) pending.push(path.resolve(path.dirname(file), specifier));
      } else packages.add(specifier);
    }
  }
  t.same(
    [...packages].filter((name) => !name.startsWith('node:')),
    ['undici'],
    'the only package is undici',
  );
  const outside = [...seen]
    .map((file) => path.relative(SRC, file))
    .filter((file) => !file.startsWith('worker/'));
  t.same(outside.sort(), [
    'jobs/backoff.ts',
    'jobs/handler.ts',
    'outbound/read-capped.ts',
    'outbound/retry-after.ts',
    'storable.ts',
    'timeout.ts',
    'version.ts',
  ]);
});
