// 5. Two API and two worker processes on one database against one all-in-one process: no job runs twice,
// no message is lost or sent twice in a clean run, and the throughput of each layout is reported.
import {
  api,
  check,
  count,
  deliveryAudit,
  freshDatabase,
  messageCounts,
  type Outcome,
  receiver,
  type Service,
  startService,
  stopAll,
  submitMany,
  tenantWithEndpoints,
  waitFor,
} from '../harness.ts';

const JOBS = Number(process.env.CHAOS_SCALE_JOBS ?? 3_000);

async function measure(serverUrl: string, layout: 'one' | 'two+two', broken: string[]) {
  const database = await freshDatabase(serverUrl);
  try {
    const target = await receiver();
    const env = { DATABASE_URL: database.url };
    const services: Service[] =
      layout === 'one'
        ? [await startService('all-in-one', env)]
        : await Promise.all([
            startService('api 1', { ...env, HOOKRELAY_ROLE: 'api' }),
            startService('api 2', { ...env, HOOKRELAY_ROLE: 'api' }),
            startService('worker 1', { ...env, HOOKRELAY_ROLE: 'worker' }),
            startService('worker 2', { ...env, HOOKRELAY_ROLE: 'worker' }),
          ]);
    const fronts = layout === 'one' ? services : services.slice(0, 2);
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
    check(broken, accepted === JOBS, `${layout}: every job accepted`);
    check(broken, audit.missing === 0 && audit.messages === JOBS, `${layout}: every message delivered`);
    check(broken, audit.duplicates === 0, `${layout}: nothing delivered twice (${audit.duplicates})`);
    check(
      broken,
      runsTwice === 0 && attemptsOverOne === 0,
      `${layout}: no job ran twice (${runsTwice}, ${attemptsOverOne})`,
    );
    check(
      broken,
      services.every((s) => s.alive() && s.errors.length === 0),
      `${layout}: no process failed or logged errors`,
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
  const one = await measure(serverUrl, 'one', broken);
  const four = await measure(serverUrl, 'two+two', broken);
  check(
    broken,
    four.perSecond >= one.perSecond,
    `two workers at least as fast as one process (${four.perSecond} vs ${one.perSecond}/s)`,
  );
  return {
    figures: {
      jobs: JOBS,
      'one all-in-one process (jobs delivered/s)': one.perSecond,
      '2 api + 2 worker processes (jobs delivered/s)': four.perSecond,
      ratio: +(four.perSecond / one.perSecond).toFixed(2),
      duplicates: one.duplicates + four.duplicates,
    },
    broken,
  };
}
