// 10. Postgres across a network: the shape of a database in another availability zone, 2 ms of round trip
// between the service and Postgres (a fault proxy adding 1 ms each way). One all-in-one process takes a burst
// and then a steady 500 jobs/s, each delivered to one endpoint; the same runs straight to Postgres, in the same
// run, are the reference. Target: p99 submit-to-webhook under 150 ms at 500 jobs/s with the latency.

import { freshDatabase } from '../../../harness/database.ts';
import { api, offer, percentile, submitMany, tenantWithEndpoints } from '../../../harness/load.ts';
import { receiver } from '../../../harness/receiver.ts';
import { startService, stopAll } from '../../../harness/service.ts';
import { waitFor } from '../../../harness/wait.ts';
import { startFaultProxy } from '../fault-proxy.ts';
import { check, type Outcome } from '../harness.ts';

const BURST = Number(process.env.CHAOS_LATENCY_BURST ?? 3_000);
const RATE = 500;
const SECONDS = Number(process.env.CHAOS_LATENCY_SECONDS ?? 30);
const ONE_WAY_MS = 1;

async function run(serverUrl: string, viaProxy: boolean) {
  const database = await freshDatabase(serverUrl);
  const postgres = new URL(serverUrl);
  const proxy = viaProxy
    ? await startFaultProxy({ host: postgres.hostname, port: Number(postgres.port) })
    : undefined;
  proxy?.set({ kind: 'latency', ms: ONE_WAY_MS });
  try {
    const service = await startService(viaProxy ? '2 ms from Postgres' : 'next to Postgres', {
      DATABASE_URL: proxy ? proxy.rewrite(database.url) : database.url,
      TENANT_MAX_QUEUED_JOBS: '10000000',
    });
    const target = await receiver();
    const tenant = await tenantWithEndpoints(service.base, [target]);
    const client = api(service.base, tenant.key, 32);
    const body = (i: number) => ({ type: 'echo', input: { i }, endpointId: tenant.endpoints[0] });

    const started = Date.now();
    const burst = await submitMany(client, BURST, body, 32);
    await waitFor(
      'the burst delivered',
      () => [...burst.accepted.keys()].every((id) => target.firstByJob.has(id)),
      300_000,
      50,
    );
    const last = Math.max(...[...burst.accepted.keys()].map((id) => target.firstByJob.get(id) as number));
    const throughput = Math.round(burst.accepted.size / ((last - started) / 1000));

    const steady = await offer([client], RATE, SECONDS, body);
    await waitFor(
      'the steady load delivered',
      () => [...steady.accepted.keys()].every((id) => target.firstByJob.has(id)),
      120_000,
      50,
    );
    const latencies = [...steady.accepted].map(([id, at]) => (target.firstByJob.get(id) as number) - at);
    await client.close();
    const refused = [...steady.refused.values(), ...burst.refused.values()].reduce((a, b) => a + b, 0);
    return {
      throughput,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      refused,
      errors: service.errors,
    };
  } finally {
    await stopAll();
    await proxy?.close();
    await database.drop();
  }
}

export async function latency(serverUrl: string): Promise<Outcome> {
  const broken: string[] = [];
  const near = await run(serverUrl, false);
  const far = await run(serverUrl, true);
  check(broken, far.refused === 0 && near.refused === 0, 'every submission accepted');
  check(broken, far.p99 < 150, `p99 at ${RATE} jobs/s under 150 ms with 2 ms to Postgres (${far.p99} ms)`);
  check(broken, far.errors.length === 0, `no errors logged: ${far.errors[0] ?? ''}`);
  return {
    figures: {
      'burst deliveries/s, next to / 2 ms from Postgres': `${near.throughput} / ${far.throughput}`,
      'burst ratio': +(far.throughput / near.throughput).toFixed(2),
      [`p50/p99 at ${RATE} jobs/s next to Postgres (ms)`]: `${near.p50}/${near.p99}`,
      [`p50/p99 at ${RATE} jobs/s 2 ms from Postgres (ms)`]: `${far.p50}/${far.p99}`,
    },
    broken,
  };
}
