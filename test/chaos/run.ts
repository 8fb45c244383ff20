// `npm run chaos [scenario…]`: runs the fault scenarios on this machine against real processes and a real
// Postgres (DATABASE_URL's server, or an embedded one for the run), prints each one's figures, writes them
// to test/chaos/results/latest.json, and exits 1 if any promise broke.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { closeReceivers } from '../../harness/receiver.ts';
import { stopAll } from '../../harness/service.ts';
import { createLogger } from '../../src/log.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../src/store/embedded-postgres.ts';
import type { Outcome } from './harness.ts';
import { killDuringDeliveries } from './scenarios/kill.ts';
import { latency } from './scenarios/latency.ts';
import { noisyTenant } from './scenarios/noisy-tenant.ts';
import { partition } from './scenarios/partition.ts';
import { postgresRestart } from './scenarios/postgres-restart.ts';
import { receiverOutage } from './scenarios/receiver-outage.ts';
import { scaleOut } from './scenarios/scale-out.ts';
import { slowReceivers } from './scenarios/slow-receivers.ts';
import { soak } from './scenarios/soak.ts';

/** Stops and starts the run's Postgres (on the same port), for the restart scenario. */
export interface PostgresControl {
  stop(): Promise<void>;
  start(): Promise<void>;
}

const log = createLogger('warn');
let embedded: EmbeddedPostgres | undefined;
let dataDir: string | undefined;
let serverUrl = process.env.DATABASE_URL;
if (!serverUrl) {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'hookrelay-chaos-'));
  embedded = await startEmbeddedPostgres(dataDir, log);
  serverUrl = embedded.url;
}
const control: PostgresControl | undefined = dataDir
  ? {
      stop: async () => embedded?.stop(),
      start: async () => {
        embedded = await startEmbeddedPostgres(dataDir as string, log);
      },
    }
  : undefined;

const scenarios: Record<string, (url: string) => Promise<Outcome>> = {
  'kill-worker': (url) => killDuringDeliveries(url, 'worker'),
  'kill-all-in-one': (url) => killDuringDeliveries(url, 'all'),
  'postgres-restart': (url) => postgresRestart(url, control),
  'receiver-outage': receiverOutage,
  'slow-receivers': slowReceivers,
  'scale-out': scaleOut,
  soak,
  'noisy-tenant': noisyTenant,
  partition,
  latency,
};

const chosen = process.argv.slice(2);
const unknown = chosen.filter((name) => !(name in scenarios));
if (unknown.length > 0) {
  console.error(`unknown scenario: ${unknown.join(', ')}; known: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}

const results: Array<{ scenario: string; passed: boolean; seconds: number } & Outcome> = [];
for (const name of chosen.length > 0 ? chosen : Object.keys(scenarios)) {
  const started = Date.now();
  console.log(`\n▶ ${name}`);
  let outcome: Outcome;
  try {
    outcome = await (scenarios[name] as (url: string) => Promise<Outcome>)(serverUrl);
  } catch (error) {
    outcome = { figures: {}, broken: [`did not finish: ${(error as Error).message}`] };
    await stopAll();
  }
  await closeReceivers();
  const seconds = Math.round((Date.now() - started) / 1000);
  const passed = outcome.broken.length === 0;
  results.push({ scenario: name, passed, seconds, ...outcome });
  for (const [figure, value] of Object.entries(outcome.figures)) console.log(`  ${figure}: ${value}`);
  for (const promise of outcome.broken) console.log(`  BROKEN: ${promise}`);
  console.log(`  ${passed ? 'passed' : 'FAILED'} in ${seconds} s`);
}

const resultsDir = path.join(import.meta.dirname, 'results');
await fs.mkdir(resultsDir, { recursive: true });
const report = { at: new Date().toISOString(), cpus: os.cpus().length, node: process.version, results };
await fs.writeFile(path.join(resultsDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);

console.log('\nscenario            result   seconds');
for (const r of results)
  console.log(`${r.scenario.padEnd(20)}${(r.passed ? 'passed' : 'FAILED').padEnd(9)}${r.seconds}`);
await embedded?.stop();
if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
process.exit(results.every((r) => r.passed) ? 0 : 1);
