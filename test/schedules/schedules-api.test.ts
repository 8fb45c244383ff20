// Schedules through the real HTTP API and the real database: create, show, list, change, pause, resume, trigger
// and delete; pg-boss's timing row kept in step with ours; tenant isolation; the per-tenant limit; hostile input
// (bad cron, unknown zone, templates POST /v1/jobs would refuse); an occurrence sent by pg-boss makes one job
// however often it is sent, and a gap with no cron pass gives one catch-up job.
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { client } from '../helpers/client.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY } from '../helpers/jobs-app.ts';
import { runHookrelay } from '../helpers/process.ts';

const database = await freshDatabase(t);
const service = runHookrelay(t, {
  DATABASE_URL: database,
  ADMIN_API_KEY: ADMIN_KEY,
  TENANT_MAX_SCHEDULES: '4',
  SCHEDULE_CHECK_INTERVAL: '1s',
});
const base = await service.ready();
const admin = client(base, ADMIN_KEY);
const db = new pg.Pool({ connectionString: database, max: 2 });
t.teardown(() => db.end());

async function newTenant(name: string) {
  const tenant = (await admin<{ id: string; apiKey: string }>('POST', '/v1/admin/tenants', { name })).body;
  return { id: tenant.id, api: client(base, tenant.apiKey) };
}
const { api } = await newTenant('schedules');
const other = await newTenant('other');

interface Schedule {
  id: string;
  name: string | null;
  cron: string;
  timezone: string;
  job: Record<string, unknown>;
  overlap: string;
  paused: boolean;
  nextRuns: string[];
  lastRunAt: string | null;
  lastJobId: string | null;
  lastError: string | null;
  occurrences: { fired: number; skipped: number };
}
interface Problem {
  status: number;
  title: string;
  detail: string;
  errors?: { path: string; message: string }[];
}

const bossRow = async (id: string) =>
  (await db.query('select cron, timezone, options from pgboss.schedule where key = $1', [id])).rows[0];

t.test('create, show, list, change and delete a schedule; pg-boss keeps its timing', async (t) => {
  const created = await api<Schedule>('POST', '/v1/schedules', {
    name: 'nightly export',
    cron: '0 9 * * 1-5',
    timezone: 'Europe/Berlin',
    job: { type: 'echo', input: { report: 'daily' }, metadata: { team: 'finance' } },
  });
  t.equal(created.status, 201);
  const schedule = created.body;
  t.match(schedule.id, /^sch_[0-9A-Z]{26}$/);
  t.match(schedule, {
    name: 'nightly export',
    cron: '0 9 * * 1-5',
    timezone: 'Europe/Berlin',
    overlap: 'skip',
    paused: false,
    lastRunAt: null,
    lastJobId: null,
    occurrences: { fired: 0, skipped: 0 },
  });
  t.strictSame(schedule.job, { type: 'echo', input: { report: 'daily' }, metadata: { team: 'finance' } });
  t.equal(schedule.nextRuns.length, 5);
  for (const run of schedule.nextRuns) {
    const at = new Date(run);
    t.ok(at.getTime() > Date.now(), 'runs are ahead');
    const local = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Berlin',
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
    }).format(at);
    t.match(local, /^(Mon|Tue|Wed|Thu|Fri) 09:00$/, `${run} is 9:00 on a weekday in Berlin`);
  }
  t.match(await bossRow(schedule.id), {
    cron: '0 9 * * 1-5',
    timezone: 'Europe/Berlin',
    options: { missed: 'once' },
  });

  t.strictSame((await api<Schedule>('GET', `/v1/schedules/${schedule.id}`)).body, schedule);
  const listed = await api<{ data: Schedule[]; nextCursor: string | null }>('GET', '/v1/schedules?limit=10');
  t.ok(listed.body.data.some((s) => s.id === schedule.id));

  const changed = await api<Schedule>('PATCH', `/v1/schedules/${schedule.id}`, {
    cron: '30 6 * * *',
    timezone: 'America/New_York',
    overlap: 'allow',
  });
  t.equal(changed.status, 200);
  t.match(changed.body, {
    cron: '30 6 * * *',
    timezone: 'America/New_York',
    overlap: 'allow',
    name: 'nightly export',
  });
  t.strictSame(changed.body.job, schedule.job, 'the template stays when not given');
  t.match(await bossRow(schedule.id), { cron: '30 6 * * *', timezone: 'America/New_York' });

  t.equal((await api('DELETE', `/v1/schedules/${schedule.id}`)).status, 204);
  t.equal((await api('GET', `/v1/schedules/${schedule.id}`)).status, 404);
  t.equal(await bossRow(schedule.id), undefined, "pg-boss's timing row went with it");
});

t.test(
  'pause, resume and trigger; jobs carry scheduleId and stay after the schedule is deleted',
  async (t) => {
    const { body: schedule } = await api<Schedule>('POST', '/v1/schedules', {
      cron: '0 0 1 1 *',
      job: { type: 'echo', input: { n: 1 } },
      paused: true,
    });
    t.equal(schedule.paused, true);
    t.strictSame(schedule.nextRuns, [], 'a paused schedule has no runs ahead');
    t.equal(await bossRow(schedule.id), undefined, 'no timing while paused');

    const resumed = await api<Schedule>('POST', `/v1/schedules/${schedule.id}/resume`);
    t.equal(resumed.status, 200);
    t.equal(resumed.body.paused, false);
    t.equal(resumed.body.nextRuns.length, 5);
    t.ok(await bossRow(schedule.id), 'timing armed on resume');
    const paused = await api<Schedule>('POST', `/v1/schedules/${schedule.id}/pause`);
    t.equal(paused.body.paused, true);
    t.equal(await bossRow(schedule.id), undefined, 'disarmed on pause');

    const triggered = await api<{ jobId: string }>('POST', `/v1/schedules/${schedule.id}/trigger`);
    t.equal(triggered.status, 202, 'a paused schedule can still be triggered');
    const jobId = triggered.body.jobId;
    const job = await waitFor('the triggered job to succeed', async () => {
      const { body } = await api<{ status: string; scheduleId: string; result: unknown }>(
        'GET',
        `/v1/jobs/${jobId}`,
      );
      return body.status === 'succeeded' ? body : undefined;
    });
    t.equal(job.scheduleId, schedule.id);
    t.strictSame(job.result, { n: 1 });
    const after = (await api<Schedule>('GET', `/v1/schedules/${schedule.id}`)).body;
    t.equal(after.lastJobId, jobId);
    t.ok(after.lastRunAt);

    const second = (await api<{ jobId: string }>('POST', `/v1/schedules/${schedule.id}/trigger`)).body.jobId;
    const { body: byId } = await api<{ data: { id: string }[] }>('GET', `/v1/jobs?scheduleId=${schedule.id}`);
    t.strictSame(
      byId.data.map((j) => j.id),
      [second, jobId],
      "GET /v1/jobs?scheduleId= lists the schedule's jobs, newest first",
    );
    t.equal((await api('DELETE', `/v1/schedules/${schedule.id}`)).status, 204);
    const { body: kept } = await api<{ data: { id: string }[] }>('GET', `/v1/jobs?scheduleId=${schedule.id}`);
    t.equal(kept.data.length, 2, 'deleting a schedule leaves its jobs');
    t.equal((await api('POST', `/v1/schedules/${schedule.id}/trigger`)).status, 404);
  },
);

t.test("another tenant's schedule is not found, whatever the verb", async (t) => {
  const { body: mine } = await api<Schedule>('POST', '/v1/schedules', {
    cron: '@daily',
    job: { type: 'echo', input: {} },
  });
  for (const [method, path, body] of [
    ['GET', `/v1/schedules/${mine.id}`],
    ['PATCH', `/v1/schedules/${mine.id}`, { paused: true }],
    ['POST', `/v1/schedules/${mine.id}/pause`],
    ['POST', `/v1/schedules/${mine.id}/resume`],
    ['POST', `/v1/schedules/${mine.id}/trigger`],
    ['DELETE', `/v1/schedules/${mine.id}`],
  ] as const) {
    const answer = await other.api(method, path, body);
    t.equal(answer.status, 404, `${method} ${path}`);
  }
  const { body: theirs } = await other.api<{ data: Schedule[] }>('GET', '/v1/schedules');
  t.strictSame(theirs.data, []);
  const { body: jobs } = await other.api<{ data: unknown[] }>('GET', `/v1/jobs?scheduleId=${mine.id}`);
  t.strictSame(jobs.data, []);
  t.equal((await api<Schedule>('GET', `/v1/schedules/${mine.id}`)).body.paused, false, 'untouched');
  await api('DELETE', `/v1/schedules/${mine.id}`);
});

t.test('hostile and invalid input: 400 or 422 with the field named, never a 5xx', async (t) => {
  const job = { type: 'echo', input: {} };
  const cases: [string, Record<string, unknown>, number, string?][] = [
    ['six fields (seconds)', { cron: '*/5 * * * * *', job }, 400, 'body.cron'],
    ['four fields', { cron: '* * * *', job }, 400, 'body.cron'],
    ['out of range', { cron: '61 * * * *', job }, 400, 'body.cron'],
    ['an impossible date', { cron: '0 0 31 2 *', job }, 400, 'body.cron'],
    ['random H', { cron: 'H 9 * * *', job }, 400, 'body.cron'],
    ['an RFC 5545 rule', { cron: 'FREQ=DAILY;BYHOUR=9', job }, 400, 'body.cron'],
    ['@reboot', { cron: '@reboot', job }, 400, 'body.cron'],
    ['empty', { cron: '  ', job }, 400, 'body.cron'],
    ['SQL', { cron: "0 0 * * *'; drop table jobs; --", job }, 400, 'body.cron'],
    ['NUL', { cron: '0 0 * * *\u0000', job }, 400],
    ['too long', { cron: `${'1,'.repeat(150)}1 * * * *`, job }, 400, 'body.cron'],
    ['not a string', { cron: 5, job }, 400, 'body.cron'],
    ['unknown zone', { cron: '@daily', timezone: 'Mars/Olympus', job }, 400, 'body.timezone'],
    ['an offset, not a zone', { cron: '@daily', timezone: '+05:00', job }, 400, 'body.timezone'],
    ['a path', { cron: '@daily', timezone: '../../etc/passwd', job }, 400, 'body.timezone'],
    ['no job', { cron: '@daily' }, 400, 'body.job'],
    ['unknown job type', { cron: '@daily', job: { type: 'nope', input: {} } }, 422],
    [
      'input the type refuses',
      { cron: '@daily', job: { type: 'http', input: { url: 'not a url' } } },
      400,
      'body.job.input.url',
    ],
    [
      'a private callback',
      { cron: '@daily', job: { ...job, callbackUrl: 'http://169.254.169.254/latest' } },
      422,
    ],
    [
      'a job URL to loopback',
      { cron: '@daily', job: { type: 'http', input: { url: 'http://127.0.0.1:1/' } } },
      422,
    ],
    [
      'an unknown endpoint',
      { cron: '@daily', job: { ...job, endpointId: 'ep_00000000000000000000000000' } },
      422,
    ],
    [
      'both destinations',
      {
        cron: '@daily',
        job: { ...job, callbackUrl: 'https://example.com/', endpointId: 'ep_00000000000000000000000000' },
      },
      400,
      'body.job.endpointId',
    ],
    [
      'runAt in a template',
      { cron: '@daily', job: { ...job, runAt: '2030-01-01T00:00:00Z' } },
      400,
      'body.job',
    ],
    ['an unknown field', { cron: '@daily', job, every: 'day' }, 400],
    ['a bad overlap', { cron: '@daily', job, overlap: 'queue' }, 400, 'body.overlap'],
    ['priority out of range', { cron: '@daily', job: { ...job, priority: 1000 } }, 400, 'body.job.priority'],
  ];
  for (const [name, body, status, path] of cases) {
    const answer = await api<Problem>('POST', '/v1/schedules', body);
    t.equal(answer.status, status, name);
    if (path)
      t.ok(
        answer.body.errors?.some((e) => e.path.startsWith(path)),
        `${name}: names ${path}`,
      );
  }
  const { body: s } = await api<Schedule>('POST', '/v1/schedules', { cron: '@hourly', job });
  t.equal(s.cron, '0 * * * *', 'a shorthand is kept as its 5 fields');
  for (const shorthand of ['@midnight', '@DAILY', '@Weekly']) {
    const made = await api<Schedule>('POST', '/v1/schedules', { cron: shorthand, job, paused: true });
    t.equal(made.status, 201, shorthand);
    t.equal((await api('POST', `/v1/schedules/${made.body.id}/resume`)).status, 200, `${shorthand} resumes`);
    await api('DELETE', `/v1/schedules/${made.body.id}`);
  }
  t.equal((await api('POST', '/v1/schedules', { cron: '0 0 29 2 *', job })).status, 400, 'too sparse');
  t.equal((await api('PATCH', `/v1/schedules/${s.id}`, { cron: 'nope' })).status, 400);
  t.equal((await api('PATCH', `/v1/schedules/${s.id}`, { timezone: 'Nowhere/Land' })).status, 400);
  t.equal((await api('PATCH', `/v1/schedules/${s.id}`, { job: { type: 'nope', input: {} } })).status, 422);
  t.equal((await api('GET', '/v1/schedules/sch_nope')).status, 400);
  t.equal((await api('GET', '/v1/schedules/job_00000000000000000000000000')).status, 400);
  t.equal((await api('GET', '/v1/jobs?scheduleId=x')).status, 400);
  t.equal(
    (await api<Schedule>('GET', `/v1/schedules/${s.id}`)).body.cron,
    '0 * * * *',
    'refused changes leave it',
  );
  await api('DELETE', `/v1/schedules/${s.id}`);
});

t.test(
  'a template whose type was deleted: occurrences are refused, the schedule can still be renamed',
  async (t) => {
    t.equal((await api('PUT', '/v1/job-types/short.lived', { execution: 'remote' })).status, 201);
    const { body: s } = await api<Schedule>('POST', '/v1/schedules', {
      cron: '@daily',
      job: { type: 'short.lived', input: {} },
    });
    t.equal((await api('DELETE', '/v1/job-types/short.lived')).status, 204);
    const renamed = await api<Schedule>('PATCH', `/v1/schedules/${s.id}`, { name: 'renamed' });
    t.equal(renamed.status, 200, 'a change that leaves the template is not refused for it');
    t.equal(renamed.body.name, 'renamed');
    t.equal(
      (await api('POST', `/v1/schedules/${s.id}/trigger`)).status,
      422,
      'a trigger is refused as the job would be',
    );
    t.equal(
      (await api('PATCH', `/v1/schedules/${s.id}`, { job: { type: 'short.lived', input: {} } })).status,
      422,
    );
    await api('DELETE', `/v1/schedules/${s.id}`);
  },
);

t.test('the per-tenant limit (TENANT_MAX_SCHEDULES) refuses with 422; deleting makes room', async (t) => {
  const { api } = await newTenant('limited');
  const body = { cron: '@daily', job: { type: 'echo', input: {} } };
  const made = await Promise.all([1, 2, 3, 4, 5, 6].map(() => api<Schedule>('POST', '/v1/schedules', body)));
  t.strictSame(
    made.map((m) => m.status).sort(),
    [201, 201, 201, 201, 422, 422],
    'four at most, even created at once',
  );
  const first = made.find((m) => m.status === 201)?.body as Schedule;
  await api('DELETE', `/v1/schedules/${first.id}`);
  t.equal((await api('POST', '/v1/schedules', body)).status, 201);
});

t.test('an occurrence makes one job however often pg-boss sends it', async (t) => {
  const boss = new PgBoss({ connectionString: database, schedule: false, supervise: false, migrate: false });
  await boss.start();
  t.teardown(() => boss.stop({ graceful: false }));
  t.equal((await api('PUT', '/v1/job-types/nightly', { execution: 'remote' })).status, 201);
  const { body: schedule } = await api<Schedule>('POST', '/v1/schedules', {
    cron: '0 0 1 1 *',
    job: { type: 'nightly', input: {} },
  });
  // As if made two years ago: this year's 1 January occurrence is its latest, and not yet handled.
  await db.query(`update schedules set last_occurrence_at = now() - interval '2 years' where id = $1`, [
    schedule.id,
  ]);
  // What pg-boss's cron pass sends at an occurrence, sent three times at once and then again.
  const send = () => boss.send('hookrelay-schedules', { scheduleId: schedule.id });
  await Promise.all([send(), send(), send()]);
  const fired = await waitFor('the occurrence to make its job', async () => {
    const { body } = await api<Schedule>('GET', `/v1/schedules/${schedule.id}`);
    return body.lastJobId ? body : undefined;
  });
  t.equal(fired.occurrences.fired, 1);
  await send();
  await waitFor('the sends to be handled', async () => {
    const { rows } = await db.query(
      `select count(*)::int as n from pgboss.job where name = 'hookrelay-schedules' and state <> 'completed'`,
    );
    return rows[0].n === 0;
  });
  const { body: jobs } = await api<{ data: { id: string; scheduleId: string }[] }>(
    'GET',
    `/v1/jobs?scheduleId=${schedule.id}`,
  );
  t.equal(jobs.data.length, 1, 'one job for the occurrence, however many sends');
  t.equal(jobs.data[0]?.id, fired.lastJobId);
  t.equal(jobs.data[0]?.scheduleId, schedule.id);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const count = (outcome: string) =>
    Number(
      new RegExp(`hookrelay_schedule_occurrences_total\\{outcome="${outcome}"\\} (\\d+)`).exec(
        metrics,
      )?.[1] ?? 0,
    );
  t.ok(count('fired') >= 1, 'fired occurrences are counted');
  t.ok(count('repeat') >= 3, 'and the repeated sends');
  t.match(metrics, /hookrelay_schedule_lag_seconds_count [1-9]/, "and each fired one's lag");
});

t.test(
  'an occurrence whose job cannot be written is retried and made once; the others in its batch are not held',
  async (t) => {
    const boss = new PgBoss({
      connectionString: database,
      schedule: false,
      supervise: false,
      migrate: false,
    });
    await boss.start();
    t.teardown(() => boss.stop({ graceful: false }));
    const make = async () =>
      (
        await api<Schedule>('POST', '/v1/schedules', {
          cron: '0 0 1 1 *',
          job: { type: 'echo', input: {} },
        })
      ).body;
    const [failing, fine] = [await make(), await make()];
    await db.query(
      `update schedules set last_occurrence_at = now() - interval '2 years' where id = any($1)`,
      [[failing.id, fine.id]],
    );
    // The database refuses the failing schedule's job, as it would a write that cannot be made.
    await db.query(`create function refuse_job() returns trigger language plpgsql as $$
    begin raise exception 'refused for the test'; end $$`);
    await db.query(
      `create trigger refuse_job before insert on jobs for each row
       when (new.schedule_id = '${failing.id}') execute function refuse_job()`,
    );
    await boss.insert('hookrelay-schedules', [
      { data: { scheduleId: failing.id } },
      { data: { scheduleId: fine.id } },
    ]);
    const made = await waitFor('the other schedule to make its job', async () => {
      const { body } = await api<Schedule>('GET', `/v1/schedules/${fine.id}`);
      return body.lastJobId ? body : undefined;
    });
    t.equal(made.occurrences.fired, 1, 'the other occurrence of the batch made its job');
    const other = await waitFor('the other occurrence to complete', async () => {
      const { rows } = await db.query(
        `select state, retry_count from pgboss.job where name = 'hookrelay-schedules' and data->>'scheduleId' = $1`,
        [fine.id],
      );
      return rows[0]?.state === 'completed' ? rows[0] : undefined;
    });
    t.equal(other.retry_count, 0, 'completed at its first try, not failed with the batch');
    const retried = await waitFor('the failed occurrence to be retried', async () => {
      const { rows } = await db.query(
        `select retry_count from pgboss.job where name = 'hookrelay-schedules' and data->>'scheduleId' = $1`,
        [failing.id],
      );
      return rows[0]?.retry_count >= 1 ? rows[0] : undefined;
    });
    t.ok(retried, 'pg-boss retries it');
    t.equal((await api<Schedule>('GET', `/v1/schedules/${failing.id}`)).body.lastJobId, null, 'no job yet');
    await db.query('drop trigger refuse_job on jobs');
    const recovered = await waitFor('the retried occurrence to make its job', async () => {
      const { body } = await api<Schedule>('GET', `/v1/schedules/${failing.id}`);
      return body.lastJobId ? body : undefined;
    });
    t.equal(recovered.occurrences.fired, 1);
    const { body: jobs } = await api<{ data: unknown[] }>('GET', `/v1/jobs?scheduleId=${failing.id}`);
    t.equal(jobs.data.length, 1, 'exactly one job once it could be written');
  },
);

t.test(
  "a send dated just before its occurrence (pg-boss's clock ahead) stands for that occurrence",
  async (t) => {
    // A tenant of its own: the shared one is at TENANT_MAX_SCHEDULES by now.
    const { api } = await newTenant('own');
    const boss = new PgBoss({
      connectionString: database,
      schedule: false,
      supervise: false,
      migrate: false,
    });
    await boss.start();
    t.teardown(() => boss.stop({ graceful: false }));
    // An hourly schedule whose next run is at least two minutes away, so no pass sends it meanwhile.
    const at = new Date(Math.ceil((Date.now() + 120_000) / 60_000) * 60_000);
    const { body: schedule } = await api<Schedule>('POST', '/v1/schedules', {
      cron: `${at.getUTCMinutes()} * * * *`,
      job: { type: 'echo', input: {} },
    });
    // A send held back, then dated half a second before the run, as a pass whose clock reads ahead would date it.
    const id = await boss.send('hookrelay-schedules', { scheduleId: schedule.id }, { startAfter: 3_600 });
    await db.query(`update pgboss.job set created_on = $2, start_after = now() where id = $1`, [
      id,
      new Date(at.getTime() - 500),
    ]);
    const fired = await waitFor('the send to make its job', async () => {
      const { body } = await api<Schedule>('GET', `/v1/schedules/${schedule.id}`);
      return body.lastJobId ? body : undefined;
    });
    t.equal(
      fired.occurrences.fired,
      1,
      'a job, for the run it was sent for (the hour before is older than the schedule)',
    );
    const { rows } = await db.query('select last_occurrence_at from schedules where id = $1', [schedule.id]);
    t.equal(rows[0].last_occurrence_at.toISOString(), at.toISOString(), 'recorded as that run');
  },
);

t.test(
  "a schedule gone without pg-boss's row (deleted with its tenant) stops its timing at its next send",
  async (t) => {
    // A tenant of its own: the shared one is at TENANT_MAX_SCHEDULES by now.
    const { api } = await newTenant('own');
    const boss = new PgBoss({
      connectionString: database,
      schedule: false,
      supervise: false,
      migrate: false,
    });
    await boss.start();
    t.teardown(() => boss.stop({ graceful: false }));
    const { body: schedule } = await api<Schedule>('POST', '/v1/schedules', {
      cron: '0 0 1 1 *',
      job: { type: 'echo', input: {} },
    });
    t.ok(await bossRow(schedule.id));
    await db.query('delete from schedules where id = $1', [schedule.id]);
    await boss.send('hookrelay-schedules', { scheduleId: schedule.id });
    await waitFor("pg-boss's row to go", async () => (await bossRow(schedule.id)) === undefined);
    t.pass("pg-boss's row removed");
  },
);

t.test("pg-boss's forwards of a dead process are sent again within a minute", async (t) => {
  const { rows } = await db.query(`select expire_seconds from pgboss.queue where name = '__pgboss__send-it'`);
  t.equal(rows[0]?.expire_seconds, 60);
});

t.test('a gap with no cron pass gives one catch-up job', async (t) => {
  // A tenant of its own: the shared one is at TENANT_MAX_SCHEDULES by now.
  const { api } = await newTenant('own');
  const { body: schedule } = await api<Schedule>('POST', '/v1/schedules', {
    cron: '0 * * * *',
    job: { type: 'echo', input: { catchUp: true } },
  });
  // As if no worker had run for three hours: the last cron pass, and the schedule's creation, lie before them.
  await db.query(`update schedules set last_occurrence_at = now() - interval '5 hours' where id = $1`, [
    schedule.id,
  ]);
  await db.query(`update pgboss.schedule set created_on = now() - interval '5 hours' where key = $1`, [
    schedule.id,
  ]);
  await db.query(`update pgboss.version set cron_on = now() - interval '3 hours'`);
  const fired = await waitFor('the catch-up job', async () => {
    const { body } = await api<Schedule>('GET', `/v1/schedules/${schedule.id}`);
    return body.lastJobId ? body : undefined;
  });
  t.equal(fired.occurrences.fired, 1);
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const { body: jobs } = await api<{ data: unknown[] }>('GET', `/v1/jobs?scheduleId=${schedule.id}`);
  t.equal(jobs.data.length, 1, 'one job for three missed occurrences');
});
