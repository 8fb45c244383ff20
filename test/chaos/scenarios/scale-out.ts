// 5. Two API and two worker processes on one database: no job runs twice, no message is lost or sent twice
// in a clean run, and two worker processes deliver more than one (both layouts behind the same two API
// processes). One all-in-one process is measured too, for reference.

import { count, freshDatabase } from '../../../harness/database.ts';
import { api, submitMany, tenantWithEndpoints } from '../../../harness/load.ts';
import { receiver } from '../../../harness/receiver.ts';
import { type Service, startService, stopAll } from '../../../harness/service.ts';
import { waitFor } from '../../../harness/wait.ts';
import { check, deliveryAudit, messageCounts, type Outcome } from '../harness.ts';

const JOBS = Number(process.env.CHAOS_SCALE_JOBS ?? 3_000);

/** A layout: how many API and worker processes; none of either is one all-in-one process. */
interface Layout {
  name: string;
  apis: number;
  workers: number;
}

async function measure(serverUrl: string, layout: Layout, broken: string[]) {
  const database = await freshDatabase(serverUrl);
  try {
    const target = await receiver();
    const env = { DATABASE_URL: database.url };
    const roles = [
      ...Array.from({ length: layout.apis }, (_, i) => [`api ${i + 1}`, 'api'] as const),
      ...Array.from({ length: layout.workers }, (_, i) => [`worker ${i + 1}`, 'worker'] as const),
    ];
    const services: Service[] =
      roles.length === 0
        ? [await startService('all-in-one', env)]
        : await Promise.all(
            roles.map(([name, role]) => startService(name, { ...env, HOOKRELAY_ROLE: role })),
          );
    const fronts = roles.length === 0 ? services : services.slice(0, layout.apis);
    const tenant = await tenantWithEndpoints((fronts[0] as Service).base, [target]);
    const clients = fronts.map((s) => api(s.base, tenant.key, 16));
    const started = Date.now();
    // Half the jobs through each API process.
    const halves = await Promise.all(
      clients.map((client) =>
        submitMany(
          client,
          JOBS / clients.length,
          (i) => ({ type: 'echo', input: { i }, endpointId: tenant.endpoints[0] }),
          32 / clients.length,
        ),
      ),
    );
    const accepted = halves.reduce((n, h) => n + h.accepted.size, 0);
    if (accepted !== JOBS) throw new Error(`${layout.name}: ${accepted} of ${JOBS} jobs accepted`);
    await waitFor(
      'every delivery',
      async () => (await messageCounts(database.db)).delivered >= JOBS,
      300_000,
      100,
    );
    const seconds = (Date.now() - started) / 1000;
    const audit = await deliveryAudit(database.db, target);
    const runsTwice = await count(
      database.db,
      'select count(*)::int as n from (select job_id from job_events group by job_id having count(*) > 1) x',
    );
    const attemptsOverOne = await count(
      database.db,
      'select count(*)::int as n from jobs where attempts <> 1',
    );
    check(broken, audit.missing === 0 && audit.messages === JOBS, `${layout.name}: every message delivered`);
    check(broken, audit.duplicates === 0, `${layout.name}: nothing delivered twice (${audit.duplicates})`);
    check(
      broken,
      runsTwice === 0 && attemptsOverOne === 0,
      `${layout.name}: no job ran twice (${runsTwice}, ${attemptsOverOne})`,
    );
    check(
      broken,
      services.every((s) => s.alive() && s.errors.length === 0),
      `${layout.name}: no process failed or logged errors`,
    );
    await Promise.all(clients.map((c) => c.close()));
    return { perSecond: Math.round(JOBS / seconds), duplicates: audit.duplicates };
  } finally {
    await stopAll();
    await database.drop();
  }
}

export async function scaleOut(serverUrl: string): Promise<Outcome> {
  const broken: string[] = [];
  const allInOne = await measure(serverUrl, { name: 'all-in-one', apis: 0, workers: 0 }, broken);
  const oneWorker = await measure(serverUrl, { name: '2 api + 1 worker', apis: 2, workers: 1 }, broken);
  const twoWorkers = await measure(serverUrl, { name: '2 api + 2 workers', apis: 2, workers: 2 }, broken);
  check(
    broken,
    twoWorkers.perSecond > oneWorker.perSecond,
    `two workers faster than one (${twoWorkers.perSecond} vs ${oneWorker.perSecond}/s)`,
  );
  return {
    figures: {
      jobs: JOBS,
      'one all-in-one process (jobs delivered/s)': allInOne.perSecond,
      '2 api + 1 worker processes (jobs delivered/s)': oneWorker.perSecond,
      '2 api + 2 worker processes (jobs delivered/s)': twoWorkers.perSecond,
      'two workers / one worker': +(twoWorkers.perSecond / oneWorker.perSecond).toFixed(2),
      'two workers / all-in-one': +(twoWorkers.perSecond / allInOne.perSecond).toFixed(2),
      duplicates: allInOne.duplicates + oneWorker.duplicates + twoWorkers.duplicates,
    },
    broken,
  };
}
