// 9. A worker host loses Postgres: two worker processes, each reaching Postgres through its own fault proxy
// (test/chaos/fault-proxy.ts), run http jobs (each holds its upstream call open for a second) and deliver their
// webhooks, while an API process takes a steady load. Worker 1's link is blackholed for 60 s: its attempts must
// stop once it cannot renew its leases, worker 2 takes them over, nothing is lost, a duplicate webhook is only a
// second arrival of the same webhook-id, and no job's upstream call is ever in flight from both workers at once.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { count, freshDatabase } from '../../../harness/database.ts';
import { api, offer, tenantWithEndpoints } from '../../../harness/load.ts';
import { receiver } from '../../../harness/receiver.ts';
import { startService, stopAll } from '../../../harness/service.ts';
import { waitFor } from '../../../harness/wait.ts';
import { type FaultProxy, startFaultProxy } from '../fault-proxy.ts';
import { check, deliveryAudit, messageCounts, type Outcome } from '../harness.ts';

const PARTITION_SECONDS = Number(process.env.CHAOS_PARTITION_SECONDS ?? 60);
const RATE = Number(process.env.CHAOS_PARTITION_RATE ?? 20);
/** Load before, during and after the partition. */
const LOAD_SECONDS = PARTITION_SECONDS + 30;
const HOLD_MS = 1_000;

/** An upstream for the http jobs that counts, per job, calls in flight at once. */
async function upstream() {
  const inFlight = new Map<string, number>();
  let overlaps = 0;
  let calls = 0;
  const server = http.createServer((request, response) => {
    const key = new URL(request.url ?? '/', 'http://x').searchParams.get('job') ?? '';
    calls++;
    const now = (inFlight.get(key) ?? 0) + 1;
    inFlight.set(key, now);
    if (now > 1) overlaps++;
    let open = true;
    const done = () => {
      if (!open) return;
      open = false;
      inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
    };
    // An aborted call (the worker stopped its attempt) ends when its connection closes.
    request.socket.on('close', done);
    setTimeout(() => {
      if (!open) return;
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}', done);
    }, HOLD_MS);
  });
  server.keepAliveTimeout = 1;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    overlaps: () => overlaps,
    calls: () => calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
}

export async function partition(serverUrl: string): Promise<Outcome> {
  const database = await freshDatabase(serverUrl);
  const broken: string[] = [];
  const postgres = new URL(serverUrl);
  const proxies: FaultProxy[] = [];
  const calls = await upstream();
  try {
    for (let i = 0; i < 2; i++) {
      proxies.push(await startFaultProxy({ host: postgres.hostname, port: Number(postgres.port) }));
    }
    const [cut, kept] = proxies as [FaultProxy, FaultProxy];
    const env = { DATABASE_URL: database.url, JOB_HEARTBEAT: '10s' };
    const front = await startService('api', { ...env, HOOKRELAY_ROLE: 'api' });
    const worker1 = await startService('worker 1', {
      ...env,
      HOOKRELAY_ROLE: 'worker',
      DATABASE_URL: cut.rewrite(database.url),
    });
    const worker2 = await startService('worker 2', {
      ...env,
      HOOKRELAY_ROLE: 'worker',
      DATABASE_URL: kept.rewrite(database.url),
    });
    const target = await receiver();
    const tenant = await tenantWithEndpoints(front.base, [target]);
    const client = api(front.base, tenant.key, 16);

    const load = offer([client], RATE, LOAD_SECONDS, (i) => ({
      type: 'http',
      input: { url: `${calls.url}/call?job=${i}`, timeoutSeconds: 30 },
      endpointId: tenant.endpoints[0],
      maxAttempts: 10,
    }));
    await sleep(15_000);
    const lostBefore = await metric(worker1.base, 'hookrelay_leases_lost_total\\{queue="jobs"\\}');
    cut.set({ kind: 'blackhole' });
    const cutAt = Date.now();
    await sleep(PARTITION_SECONDS * 1000);
    cut.set({ kind: 'none' });
    const submitted = await load;
    const accepted = submitted.accepted.size;
    await waitFor(
      'every job to end and every webhook to be delivered',
      async () =>
        (await count(database.db, "select count(*)::int as n from jobs where status = 'succeeded'")) ===
          accepted && (await messageCounts(database.db)).delivered === accepted,
      300_000,
      500,
    );
    const recoveredSeconds = (Date.now() - cutAt) / 1000 - PARTITION_SECONDS;
    const lost = (await metric(worker1.base, 'hookrelay_leases_lost_total\\{queue="jobs"\\}')) - lostBefore;
    const takenOver = await count(database.db, 'select count(*)::int as n from jobs where attempts > 1');
    const audit = await deliveryAudit(database.db, target);
    const refused = [...submitted.refused.values()].reduce((a, b) => a + b, 0);
    await client.close();

    check(broken, refused === 0, `every submission accepted (${refused} refused)`);
    check(
      broken,
      audit.missing === 0 && audit.messages === accepted,
      'every job’s webhook delivered, none lost',
    );
    check(broken, audit.unknown === 0, 'nothing arrived that is not a message');
    check(
      broken,
      calls.overlaps() === 0,
      `no job's call in flight from both workers at once (${calls.overlaps()})`,
    );
    check(
      broken,
      lost > 0,
      `the cut-off worker stopped the attempts it could not renew (${lost} leases lost)`,
    );
    check(
      broken,
      takenOver > 0,
      `the other worker took them over (${takenOver} jobs needed another attempt)`,
    );
    check(broken, worker1.alive() && worker2.alive() && front.alive(), 'every process is still up');
    check(
      broken,
      worker2.errors.length === 0 && front.errors.length === 0,
      `no errors logged away from the partition: ${[...worker2.errors, ...front.errors][0] ?? ''}`,
    );
    return {
      figures: {
        jobs: accepted,
        'partition (s)': PARTITION_SECONDS,
        'leases lost by the cut-off worker': lost,
        'jobs run again elsewhere': takenOver,
        'upstream calls': calls.calls(),
        'overlapping calls': calls.overlaps(),
        'duplicate webhooks (same webhook-id)': audit.duplicates,
        'lift → all done (s)': +recoveredSeconds.toFixed(1),
      },
      broken,
    };
  } finally {
    await stopAll();
    for (const proxy of proxies) await proxy.close();
    await calls.close();
    await database.drop();
  }
}
