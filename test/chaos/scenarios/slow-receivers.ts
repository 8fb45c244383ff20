// 4. Slow receivers: one endpoint answering in 10 s and one that never answers take their share of the load,
// and a healthy endpoint's p99 (submission to arrival) stays within 2x of its value with nothing else running.

import { freshDatabase } from '../../../harness/database.ts';
import { api, offer, percentile, type Submitted, tenantWithEndpoints } from '../../../harness/load.ts';
import { receiver } from '../../../harness/receiver.ts';
import { startService, stopAll } from '../../../harness/service.ts';
import { waitFor } from '../../../harness/wait.ts';
import { check, type Outcome } from '../harness.ts';

const RATE = 30;
const SECONDS = 30;

export async function slowReceivers(serverUrl: string): Promise<Outcome> {
  const database = await freshDatabase(serverUrl);
  const broken: string[] = [];
  try {
    const healthy = await receiver();
    const slow = await receiver({ status: 200, delayMs: 10_000 });
    const hanging = await receiver({ status: 'hang', delayMs: 0 });
    const service = await startService('all-in-one', { DATABASE_URL: database.url });
    const tenant = await tenantWithEndpoints(service.base, [healthy, slow, hanging]);
    const [healthyId, slowId, hangingId] = tenant.endpoints as [string, string, string];
    const client = api(service.base, tenant.key);

    /** Offers RATE jobs/s to the healthy endpoint (and as many to each of `others` at the same time), and
     * returns the healthy deliveries' latencies from submission to arrival. */
    async function healthyLatencies(others: string[]) {
      const mine: Submitted = { accepted: new Map(), refused: new Map() };
      const job = (endpointId: string) => (i: number) => ({ type: 'echo', input: { i }, endpointId });
      await Promise.all([
        offer([client], RATE, SECONDS, job(healthyId), mine),
        ...others.map((endpointId) => offer([client], RATE, SECONDS, job(endpointId))),
      ]);
      const ids = [...mine.accepted.keys()];
      await waitFor('the healthy deliveries', () => ids.every((id) => healthy.firstByJob.has(id)), 60_000);
      return ids.map((id) => (healthy.firstByJob.get(id) as number) - (mine.accepted.get(id) as number));
    }

    const alone = await healthyLatencies([]);
    const loaded = await healthyLatencies([slowId, hangingId]);
    const [p99Alone, p99Loaded] = [percentile(alone, 99), percentile(loaded, 99)];
    check(broken, p99Loaded <= 2 * p99Alone, `healthy p99 within 2x (${p99Alone} → ${p99Loaded} ms)`);
    check(broken, service.alive(), 'the process stayed up');
    check(
      broken,
      slow.requests > 0 && hanging.requests > 0,
      'the slow and hanging endpoints were being tried',
    );
    return {
      figures: {
        'healthy jobs/s': RATE,
        'slow + hanging jobs/s': 2 * RATE,
        'healthy p50/p95/p99 alone (ms)': `${percentile(alone, 50)}/${percentile(alone, 95)}/${p99Alone}`,
        'healthy p50/p95/p99 beside slow ones (ms)': `${percentile(loaded, 50)}/${percentile(loaded, 95)}/${p99Loaded}`,
        'requests at the slow / hanging endpoint': `${slow.requests}/${hanging.requests}`,
      },
      broken,
    };
  } finally {
    await stopAll();
    await database.drop();
  }
}
