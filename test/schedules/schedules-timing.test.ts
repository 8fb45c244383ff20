// Schedules on the real clock (about 3.5 minutes): pg-boss's cron pass has no finer resolution than a minute,
// so this runs an every-minute schedule for three occurrences, with an API process and two worker processes on
// one database. Each occurrence makes exactly one job (and one signed webhook), although a worker process is
// killed without warning five seconds before the second and the third occurrence; an overlap-skip schedule whose
// job never ends makes one job and counts the other occurrences as skipped.
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { client } from '../helpers/client.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY } from '../helpers/jobs-app.ts';
import { runHookrelay, type ServiceProcess } from '../helpers/process.ts';
import { upstream, verifiedWebhook } from '../helpers/upstream.ts';

// Three minutes of occurrences and the processes' starts: past the suite's 120 s a file.
t.setTimeout(300_000);
const database = await freshDatabase(t);
const env = {
  DATABASE_URL: database,
  ADMIN_API_KEY: ADMIN_KEY,
  OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
  SCHEDULE_CHECK_INTERVAL: '2s',
  LOG_LEVEL: 'warn',
};
const apiProcess = runHookrelay(t, { ...env, HOOKRELAY_ROLE: 'api', LOG_LEVEL: 'info' });
const base = await apiProcess.ready();
const urls = new Map<ServiceProcess, string>();
const startWorker = async () => {
  const worker = runHookrelay(t, { ...env, HOOKRELAY_ROLE: 'worker', LOG_LEVEL: 'info' });
  urls.set(worker, await worker.ready());
  return worker;
};
const workers: ServiceProcess[] = [await startWorker(), await startWorker()];

const admin = client(base, ADMIN_KEY);
const tenant = (
  await admin<{ id: string; apiKey: string; signingSecret: string }>('POST', '/v1/admin/tenants', {
    name: 'timing',
  })
).body;
const api = client(base, tenant.apiKey);
const receiver = await upstream(t, () => ({ status: 204 }));

interface Schedule {
  id: string;
  occurrences: { fired: number; skipped: number };
  lastJobId: string | null;
}
interface Job {
  id: string;
  createdAt: string;
  status: string;
  scheduleId: string;
}

t.test('three occurrences with two worker processes, one killed before each of the last two', async (t) => {
  const every = (
    await api<Schedule>('POST', '/v1/schedules', {
      name: 'every minute',
      cron: '* * * * *',
      overlap: 'allow',
      job: { type: 'echo', input: { every: 'minute' }, callbackUrl: `${receiver.url}/hook` },
    })
  ).body;
  t.equal((await api('PUT', '/v1/job-types/never-claimed', { execution: 'remote' })).status, 201);
  const skipping = (
    await api<Schedule>('POST', '/v1/schedules', {
      name: 'one at a time',
      cron: '* * * * *',
      job: { type: 'never-claimed', input: {} },
    })
  ).body;

  const created = Date.now();
  const minute = 60_000;
  // The occurrences after creation: the next three minute boundaries.
  const first = Math.ceil(created / minute) * minute;
  const occurrences = [first, first + minute, first + 2 * minute];

  // A worker killed (SIGKILL) five seconds before the second and the third occurrence, and another started.
  for (const [index, occurrence] of occurrences.slice(1).entries()) {
    await sleep(Math.max(0, occurrence - 5_000 - Date.now()));
    const victim = workers[index] as ServiceProcess;
    victim.child.kill('SIGKILL');
    await victim.exited;
    workers[index] = await startWorker();
  }
  await sleep(Math.max(0, (occurrences.at(-1) as number) + 20_000 - Date.now()));

  t.test('every minute: one job per occurrence, each delivered signed', async (t) => {
    const { body } = await api<{ data: Job[] }>('GET', `/v1/jobs?scheduleId=${every.id}&limit=100`);
    const jobs = body.data.toReversed();
    t.equal(jobs.length, occurrences.length, 'one job per occurrence');
    for (const [index, job] of jobs.entries()) {
      const lag = Date.parse(job.createdAt) - (occurrences[index] as number);
      // pg-boss's pass may read its clock a little ahead of the database's (its skew estimate is as good as a
      // round trip), so a job can be dated just before its minute (src/schedules/occurrence.ts, CLOCK_SLACK_MS).
      t.ok(lag > -2_000 && lag < 15_000, `job ${index + 1} made ${lag} ms after its occurrence`);
    }
    const delivered = await waitFor('the webhooks of every job', () => {
      const hooks = receiver.requests.map((request) => verifiedWebhook(tenant.signingSecret, request));
      return hooks.length >= jobs.length ? hooks : undefined;
    });
    t.strictSame(
      delivered.map((hook) => hook.data.jobId).sort(),
      jobs.map((job) => job.id).sort(),
      "each job's result arrives once, signed with the tenant's secret",
    );
    const view = (await api<Schedule>('GET', `/v1/schedules/${every.id}`)).body;
    t.equal(view.occurrences.fired, occurrences.length);
    t.equal(view.lastJobId, jobs.at(-1)?.id);
  });

  t.test('overlap skip: no job while the previous one is queued; the rest counted as skipped', async (t) => {
    const { body } = await api<{ data: Job[] }>('GET', `/v1/jobs?scheduleId=${skipping.id}`);
    t.equal(body.data.length, 1);
    t.equal(body.data[0]?.status, 'queued');
    const view = (await api<Schedule>('GET', `/v1/schedules/${skipping.id}`)).body;
    t.strictSame(view.occurrences, { fired: 1, skipped: occurrences.length - 1 });
    // The third occurrence was handled by a worker alive now (both were started again before it).
    let overlaps = 0;
    for (const worker of workers) {
      const metrics = await (await fetch(`${urls.get(worker)}/metrics`)).text();
      overlaps += Number(
        /hookrelay_schedule_occurrences_total\{outcome="overlap"\} (\d+)/.exec(metrics)?.[1] ?? 0,
      );
    }
    t.ok(overlaps >= 1, `the live workers' metrics count ${overlaps} skipped for overlap`);
  });

  t.test('the workers log no errors', async (t) => {
    for (const worker of workers) t.strictSame(worker.errors, [], 'a live worker');
  });
});
