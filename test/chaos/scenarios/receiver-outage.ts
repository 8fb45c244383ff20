// 3. One receiver refuses connections for 2 minutes under a steady 200 jobs/s, then returns. Its backlog
// drains, its circuit breaker closes, and another endpoint served all along keeps its latency meanwhile.

import { count, freshDatabase } from '../../../harness/database.ts';
import { api, offer, percentile, type Submitted, tenantWithEndpoints } from '../../../harness/load.ts';
import { receiver } from '../../../harness/receiver.ts';
import { startService, stopAll } from '../../../harness/service.ts';
import { waitFor } from '../../../harness/wait.ts';
import { check, deliveryAudit, type Outcome } from '../harness.ts';

const RATE = Number(process.env.CHAOS_OUTAGE_RATE ?? 200);
const OUTAGE_S = Number(process.env.CHAOS_OUTAGE_SECONDS ?? 120);
/** One job in ten goes to the healthy endpoint, the rest to the one that goes away. */
const HEALTHY_EVERY = 10;

export async function receiverOutage(serverUrl: string): Promise<Outcome> {
  const database = await freshDatabase(serverUrl);
  const broken: string[] = [];
  try {
    const failing = await receiver();
    const healthy = await receiver();
    const service = await startService('all-in-one', {
      DATABASE_URL: database.url,
      // Short retries, so the drain measures the backlog rather than the default day-long schedule.
      DELIVERY_RETRY_SCHEDULE: '1s,5s,15s,30s,30s,30s,30s,30s,30s,30s,30s,30s',
      CIRCUIT_BREAKER_COOLDOWN: '5s',
    });
    const tenant = await tenantWithEndpoints(service.base, [failing, healthy]);
    const [failingId, healthyId] = tenant.endpoints as [string, string];
    const client = api(service.base, tenant.key);
    const body = (i: number) => ({
      type: 'echo',
      input: { i },
      endpointId: i % HEALTHY_EVERY === 0 ? healthyId : failingId,
    });
    const latencies = (out: Submitted, since: number, until: number) =>
      [...out.accepted]
        .filter(([id, at]) => at >= since && at < until && healthy.firstByJob.has(id))
        .map(([id, at]) => (healthy.firstByJob.get(id) as number) - at);

    // 20 s of normal service for the baseline, the outage, then 20 s after it.
    const submitted: Submitted = { accepted: new Map(), refused: new Map() };
    const started = Date.now();
    const load = offer([client], RATE, 40 + OUTAGE_S, body, submitted);
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    await failing.refuse();
    const outageAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_S * 1000));
    await failing.start();
    const backAt = Date.now();
    await load;
    const offeredUntil = Date.now();

    await waitFor(
      'the backlog to drain',
      async () =>
        (await count(database.db, "select count(*)::int as n from messages where status <> 'delivered'")) ===
        0,
      600_000,
      1_000,
    );
    const drainedAt = Date.now();
    await waitFor(
      'the circuit to close',
      async () =>
        (await count(
          database.db,
          'select count(*)::int as n from endpoints where id = $1 and circuit_open_until is null and consecutive_failures = 0',
          [failingId],
        )) === 1,
      60_000,
    );
    const before = latencies(submitted, started, outageAt);
    const during = latencies(submitted, outageAt, backAt);
    const audit = await deliveryAudit(database.db, failing, failingId);
    const healthyAudit = await deliveryAudit(database.db, healthy, healthyId);
    const attemptsDuringOutage = await count(
      database.db,
      'select count(*)::int as n from attempts a join messages m on m.id = a.message_id where m.endpoint_id = $1 and a.error is not null',
      [failingId],
    );
    const p99Before = percentile(before, 99);
    const p99During = percentile(during, 99);
    check(
      broken,
      submitted.refused.size === 0,
      `every job accepted (${JSON.stringify(Object.fromEntries(submitted.refused))})`,
    );
    check(
      broken,
      audit.messages + healthyAudit.messages === submitted.accepted.size,
      'one message per accepted job',
    );
    check(broken, audit.missing === 0 && healthyAudit.missing === 0, 'every message arrived at its receiver');
    check(broken, service.alive(), 'the process stayed up');
    check(
      broken,
      p99During <= Math.max(2 * p99Before, p99Before + 50),
      `the healthy endpoint's p99 held (${p99Before} → ${p99During} ms)`,
    );
    return {
      figures: {
        'offered jobs/s': RATE,
        'outage (s)': OUTAGE_S,
        'jobs accepted': submitted.accepted.size,
        'failed attempts at the down endpoint': attemptsDuringOutage,
        'backlog drained after return (s)': Math.round((drainedAt - backAt) / 1000),
        'drained after load ended (s)': Math.round((drainedAt - offeredUntil) / 1000),
        'healthy p50/p99 before (ms)': `${percentile(before, 50)}/${p99Before}`,
        'healthy p50/p99 during (ms)': `${percentile(during, 50)}/${p99During}`,
        'duplicates (down endpoint)': audit.duplicates,
        'messages dead': await count(
          database.db,
          "select count(*)::int as n from messages where status = 'dead'",
        ),
      },
      broken,
    };
  } finally {
    await stopAll();
    await database.drop();
  }
}
