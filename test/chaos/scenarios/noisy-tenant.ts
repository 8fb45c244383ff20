// 8. A noisy tenant: tenant A submits a burst of long jobs, enough to keep every slot it may have busy
// (TENANT_MAX_RUNNING_JOBS) for the whole run, while tenant B submits short jobs at a steady rate. B's jobs must
// start within 1 s at p99, and B's webhooks arrive within 1.5× the submit-to-webhook p99 B had alone.

import { freshDatabase } from '../../../harness/database.ts';
import { api, offer, percentile, type Submitted, tenantWithEndpoints } from '../../../harness/load.ts';
import { type Receiver, receiver } from '../../../harness/receiver.ts';
import { startService, stopAll } from '../../../harness/service.ts';
import { waitFor } from '../../../harness/wait.ts';
import { check, type Outcome } from '../harness.ts';

const SLOTS = 100;
/** What A may hold: most of the slots, leaving a fifth for everyone else. */
const CAP = 80;
const LONG_JOBS = Number(process.env.CHAOS_NOISY_JOBS ?? 200);
const RATE = Number(process.env.CHAOS_NOISY_RATE ?? 20);
const SECONDS = Number(process.env.CHAOS_NOISY_SECONDS ?? 30);

/** B's load for SECONDS: submit-to-webhook latencies and submit-to-start delays, in ms. */
async function quietLoad(base: string, key: string, endpointId: string, target: Receiver) {
  const client = api(base, key, 8);
  const submitted: Submitted = await offer([client], RATE, SECONDS, (i) => ({
    type: 'echo',
    input: { i },
    endpointId,
  }));
  await waitFor(
    'B’s webhooks',
    () => [...submitted.accepted.keys()].every((id) => target.firstByJob.has(id)),
    60_000,
  );
  const latencies = [...submitted.accepted].map(([id, at]) => (target.firstByJob.get(id) as number) - at);
  const starts: number[] = [];
  for (const id of submitted.accepted.keys()) {
    const job = (await client.call<{ createdAt: string; startedAt: string }>('GET', `/v1/jobs/${id}`)).body;
    starts.push(Date.parse(job.startedAt) - Date.parse(job.createdAt));
  }
  await client.close();
  return { accepted: submitted.accepted.size, latencies, starts };
}

export async function noisyTenant(serverUrl: string): Promise<Outcome> {
  const database = await freshDatabase(serverUrl);
  const broken: string[] = [];
  try {
    const service = await startService('all-in-one', {
      DATABASE_URL: database.url,
      WORKER_CONCURRENCY: String(SLOTS),
      TENANT_MAX_RUNNING_JOBS: String(CAP),
    });
    const noisyTarget = await receiver();
    const quietTarget = await receiver();
    const noisy = await tenantWithEndpoints(service.base, [noisyTarget]);
    const quiet = await tenantWithEndpoints(service.base, [quietTarget]);

    const alone = await quietLoad(service.base, quiet.key, quiet.endpoints[0] as string, quietTarget);

    // A's burst: long enough to outlast B's second run, many more jobs than A may run at once.
    const noisyClient = api(service.base, noisy.key, 8);
    const longSeconds = SECONDS + 30;
    for (let i = 0; i < LONG_JOBS; i++) {
      await noisyClient.call('POST', '/v1/jobs', {
        type: 'demo.report',
        input: { steps: 1, stepMs: longSeconds * 1000 },
        endpointId: noisy.endpoints[0],
        timeoutSeconds: longSeconds + 60,
      });
    }
    const runningOfA = async () =>
      Number(
        (
          await database.db.query(
            "select count(*)::int as n from jobs where tenant_id = $1 and status = 'running'",
            [noisy.tenantId],
          )
        ).rows[0].n,
      );
    await waitFor(`A to run ${CAP} jobs`, async () => (await runningOfA()) >= CAP, 30_000);
    quietTarget.firstByJob.clear();
    const beside = await quietLoad(service.base, quiet.key, quiet.endpoints[0] as string, quietTarget);
    const aRunningAfter = await runningOfA();
    await noisyClient.close();

    const p99Alone = percentile(alone.latencies, 99);
    const p99Beside = percentile(beside.latencies, 99);
    const startP99 = percentile(beside.starts, 99);
    check(broken, beside.accepted === Math.round(RATE * SECONDS), 'every job of B accepted');
    check(
      broken,
      aRunningAfter === CAP,
      `A kept its ${CAP} slots busy throughout (${aRunningAfter} at the end)`,
    );
    check(broken, startP99 <= 1_000, `B's jobs start within 1 s at p99 (${startP99} ms)`);
    check(
      broken,
      p99Beside <= 1.5 * p99Alone,
      `B's webhooks within 1.5× its p99 alone (${p99Beside} ms beside A, ${p99Alone} ms alone)`,
    );
    check(broken, service.errors.length === 0, `no errors logged: ${service.errors[0] ?? ''}`);
    return {
      figures: {
        'A running (cap)': `${aRunningAfter} (${CAP} of ${SLOTS} slots)`,
        'B alone: webhook p50/p99 (ms)': `${percentile(alone.latencies, 50)}/${p99Alone}`,
        'B beside A: webhook p50/p99 (ms)': `${percentile(beside.latencies, 50)}/${p99Beside}`,
        'B beside A: start p50/p99 (ms)': `${percentile(beside.starts, 50)}/${startP99}`,
        'p99 ratio': +(p99Beside / p99Alone).toFixed(2),
      },
      broken,
    };
  } finally {
    await stopAll();
    await database.drop();
  }
}
