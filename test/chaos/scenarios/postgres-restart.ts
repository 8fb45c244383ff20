// 2. Postgres stops for a while in the middle of a steady load, then comes back on the same port. The service
// is not restarted: readiness answers 503 while the database is gone and 200 after, submissions are refused
// (503, never accepted and lost) meanwhile, and everything accepted before and after is delivered.

import { setTimeout as sleep } from 'node:timers/promises';
import { freshDatabase } from '../../../harness/database.ts';
import { api, offer, type Submitted, tenantWithEndpoints } from '../../../harness/load.ts';
import { receiver } from '../../../harness/receiver.ts';
import { startService, stopAll } from '../../../harness/service.ts';
import { waitFor } from '../../../harness/wait.ts';
import { check, deliveryAudit, messageCounts, type Outcome } from '../harness.ts';
import type { PostgresControl } from '../run.ts';

const RATE = 50;
const DOWN_MS = Number(process.env.CHAOS_POSTGRES_DOWN_SECONDS ?? 10) * 1000;

export async function postgresRestart(
  serverUrl: string,
  control: PostgresControl | undefined,
): Promise<Outcome> {
  if (!control) return { figures: {}, broken: ['needs the embedded Postgres: run without DATABASE_URL'] };
  const database = await freshDatabase(serverUrl);
  const broken: string[] = [];
  try {
    const target = await receiver();
    const service = await startService('all-in-one', { DATABASE_URL: database.url });
    const tenant = await tenantWithEndpoints(service.base, [target]);
    const client = api(service.base, tenant.key);
    const submitted: Submitted = { accepted: new Map(), refused: new Map() };
    const body = () => ({ type: 'echo', input: { at: Date.now() }, endpointId: tenant.endpoints[0] });

    // Readiness, sampled every 100 ms through the whole run.
    const readiness: Array<{ at: number; status: number }> = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const response = await fetch(`${service.base}/readyz`, { signal: AbortSignal.timeout(2_000) }).catch(
          () => undefined,
        );
        readiness.push({ at: Date.now(), status: response?.status ?? 0 });
        await sleep(100);
      }
    })();

    const load = offer([client], RATE, (DOWN_MS + 20_000) / 1000, body, submitted);
    await sleep(5_000);
    // Database down: the server stops (fast shutdown ends every session) and stays away for DOWN_MS.
    await control.stop();
    const stoppedAt = Date.now();
    await sleep(DOWN_MS);
    await control.start();
    const startedAt = Date.now();
    await load;
    await waitFor('readiness back to 200', () => readiness.at(-1)?.status === 200, 60_000).catch((error) => {
      const last = readiness.slice(-3).map((s) => s.status);
      throw new Error(
        `${error.message}; last readiness ${last}; alive ${service.alive()}; ${service.errors.slice(-8).join(' | ')}`,
      );
    });
    const recoveredAt =
      readiness.find((sample) => sample.at > startedAt && sample.status === 200)?.at ?? Date.now();
    sampling = false;
    await sampler;

    const after = database.db;
    try {
      await waitFor(
        'every accepted job delivered',
        async () => (await messageCounts(after)).delivered >= submitted.accepted.size,
        180_000,
        500,
      );
      const jobs = await after.query<{ id: string }>('select id from jobs');
      const known = new Set(jobs.rows.map((row) => row.id));
      const lost = [...submitted.accepted.keys()].filter((id) => !known.has(id)).length;
      const audit = await deliveryAudit(after, target);
      const whileDown = readiness.filter((s) => s.at > stoppedAt && s.at < startedAt - 100);
      const refusals = Object.fromEntries(submitted.refused);
      check(broken, lost === 0, `no accepted job lost (${lost} lost)`);
      check(broken, audit.missing === 0, `every accepted job's message delivered (${audit.missing} missing)`);
      const downStatuses = [...new Set(whileDown.map((s) => s.status))];
      check(
        broken,
        whileDown.length > 0 && downStatuses.join() === '503',
        `readiness 503 while down (${downStatuses})`,
      );
      const logged = [...new Set(service.errors.map((line) => line.slice(0, 400)))];
      check(broken, logged.length === 0, `no error logged: ${logged.join(' | ')}`);
      check(broken, readiness.at(-1)?.status === 200, 'readiness 200 after');
      check(broken, service.alive(), 'the process never exited');
      check(
        broken,
        [...submitted.refused.keys()].every((status) => status === 503),
        `refusals were 503 only: ${JSON.stringify(refusals)}`,
      );
      return {
        figures: {
          'down (s)': DOWN_MS / 1000,
          'offered jobs/s': RATE,
          accepted: submitted.accepted.size,
          'refused (503)': submitted.refused.get(503) ?? 0,
          'other failures': [...submitted.refused].filter(([s]) => s !== 503).reduce((n, [, c]) => n + c, 0),
          'ready again after start (s)': +((recoveredAt - startedAt) / 1000).toFixed(1),
          lost,
          duplicates: audit.duplicates,
        },
        broken,
      };
    } finally {
      await client.close();
    }
  } finally {
    await stopAll();
    await database.drop();
  }
}
