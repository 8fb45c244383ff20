// `npm test`'s runner: gives tap a real Postgres (DATABASE_URL's server, or one embedded Postgres for the run).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../src/log.ts';
import { startEmbeddedPostgres } from '../src/store/embedded-postgres.ts';

const root = path.resolve(import.meta.dirname, '..');
const tapBin = path.join(root, 'node_modules', '.bin', 'tap');

// A fresh install ships tap built with its TypeScript plugin, which we drop for Node's own type stripping
// (package.json "tap.plugin"). tap notices the change only after starting its test files with the old
// plugin, so the first run would fail: rebuild first when the built class still carries that plugin.
const builtTest = path.join(root, 'node_modules', '@tapjs', 'test', 'test-built', 'dist', 'esm', 'index.js');
if ((await fs.readFile(builtTest, 'utf8')).includes('@tapjs/typescript')) {
  execFileSync(tapBin, ['build'], { stdio: 'inherit' });
}
let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
let dataDir: string | undefined;

if (!process.env.DATABASE_URL) {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'hookrelay-test-'));
  embedded = await startEmbeddedPostgres(dataDir, createLogger('warn'));
  process.env.DATABASE_URL = embedded.url;
}

const tap = spawn(tapBin, process.argv.slice(2), {
  stdio: 'inherit',
});
// Ctrl-C reaches tap through the terminal; we only wait for it, then clean up below.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => tap.kill(signal));
const code = await new Promise<number>((resolve) => tap.on('close', (exit) => resolve(exit ?? 1)));

await embedded?.stop();
if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
process.exit(code);
