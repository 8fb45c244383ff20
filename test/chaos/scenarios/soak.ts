// 6. Soak: a steady rate for 15 minutes with a short retention period. The service's memory and the rows
// Postgres keeps level off (retention deletes as fast as work arrives) instead of growing with time.

import { freshDatabase } from '../../../harness/database.ts';
import { api, offer, type Submitted, tenantWithEndpoints } from '../../../harness/load.ts';
import { receiver } from '../../../harness/receiver.ts';
import { startService, stopAll } from '../../../harness/service.ts';
import { check, type Outcome } from '../harness.ts';

const MINUTES = Number(process.env.CHAOS_SOAK_MINUTES ?? 15);
const RATE = Number(process.env.CHAOS_SOAK_RATE ?? 100);
const SAMPLE_MS = 30_000;

interface Sample {
  minute: number;
  rssMiB: number;
  rows: number;
  tableMiB: number;
}

export async function soak(serverUrl: string): Promise<Outcome> {
  const database = await freshDatabase(serverUrl);
  const broken: string[] = [];
  try {
    const target = await receiver();
    const service = await startService('all-in-one', {
      DATABASE_URL: database.url,
      RETENTION: '2m',
      RETENTION_SWEEP_MINUTES: '1',
    });
    const created = await tenantWithEndpoints(service.base, [target]);
    const tenant = { key: created.key, endpoint: created.endpoints[0] as string };
    const client = api(service.base, tenant.key);
    const samples: Sample[] = [];
    const started = Date.now();
    const sample = async () => {
      const { rows } = await database.db.query<{ rows: number; bytes: string }>(
        `select (select count(*) from jobs) + (select count(*) from messages) + (select count(*) from attempts)
                + (select count(*) from job_events) as rows,
                pg_total_relation_size('jobs') + pg_total_relation_size('messages') + pg_total_relation_size('attempts')
                + pg_total_relation_size('job_events') as bytes`,
      );
      samples.push({
        minute: +((Date.now() - started) / 60_000).toFixed(1),
        rssMiB: Math.round(service.rssMiB()),
        rows: Number(rows[0]?.rows),
        tableMiB: +(Number(rows[0]?.bytes) / 1048576).toFixed(1),
      });
    };
    const timer = setInterval(() => void sample(), SAMPLE_MS);
    const submitted: Submitted = { accepted: new Map(), refused: new Map() };
    await offer(
      [client],
      RATE,
      MINUTES * 60,
      (i) => ({ type: 'echo', input: { i }, endpointId: tenant.endpoint }),
      submitted,
    );
    clearInterval(timer);
    await sample();
    await client.close();

    // Steady state: from retention period + two sweeps on. Its second half may not hold more than its first.
    const steady = samples.filter((s) => s.minute >= 4);
    const half = Math.floor(steady.length / 2);
    const maxOf = (list: Sample[], key: 'rssMiB' | 'rows' | 'tableMiB') =>
      Math.max(...list.map((s) => s[key]));
    const [early, late] = [steady.slice(0, half), steady.slice(half)];
    check(broken, steady.length >= 4, 'long enough to see a steady state (at least 6 minutes)');
    check(
      broken,
      maxOf(late, 'rows') <= 1.25 * maxOf(early, 'rows'),
      `rows level off (${maxOf(early, 'rows')} → ${maxOf(late, 'rows')})`,
    );
    check(
      broken,
      maxOf(late, 'rssMiB') <= 1.25 * maxOf(early, 'rssMiB'),
      `RSS levels off (${maxOf(early, 'rssMiB')} → ${maxOf(late, 'rssMiB')} MiB)`,
    );
    check(broken, maxOf(samples, 'rssMiB') < 250, 'RSS under 250 MiB');
    check(
      broken,
      submitted.refused.size === 0,
      `every job accepted (${JSON.stringify(Object.fromEntries(submitted.refused))})`,
    );
    check(
      broken,
      service.alive() && service.errors.length === 0,
      `no crash, no error logged ${service.errors[0] ?? ''}`,
    );
    return {
      figures: {
        minutes: MINUTES,
        'jobs/s': RATE,
        'jobs accepted': submitted.accepted.size,
        'webhooks received': target.requests,
        'RSS MiB (first sample, max, last)': `${samples[0]?.rssMiB}/${maxOf(samples, 'rssMiB')}/${samples.at(-1)?.rssMiB}`,
        'rows kept (steady early max, late max)': `${maxOf(early, 'rows')}/${maxOf(late, 'rows')}`,
        'table MiB (steady early max, late max)': `${maxOf(early, 'tableMiB')}/${maxOf(late, 'tableMiB')}`,
        samples: samples.map((s) => `${s.minute}m:${s.rssMiB}MiB/${s.rows}rows`).join(' '),
      },
      broken,
    };
  } finally {
    await stopAll();
    await database.drop();
  }
}
