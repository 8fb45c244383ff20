// Remote and push job types through the real HTTP API, the real database and real service processes: a tenant's
// types and their input schemas, claims with worker keys, heartbeats with progress, the lease (lapsed, stale
// tokens, deadlines), fail with and without retry, cancellation heard at the next report, and push attempts
// answered 200, 202, 503 with Retry-After and 4xx.
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { loadConfig } from '../../src/config/config.ts';
import { failOrphaned, sweepLapsed } from '../../src/jobs/lapsed-sweep.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createPool } from '../../src/store/pool.ts';
import { client } from '../helpers/client.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY, type Job, readEvents } from '../helpers/jobs-app.ts';
import { runHookrelay } from '../helpers/process.ts';
import { type Answer, type Recorded, upstream, verifiedWebhook } from '../helpers/upstream.ts';

const database = await freshDatabase(t);
const env = {
  DATABASE_URL: database,
  ADMIN_API_KEY: ADMIN_KEY,
  JOB_RETRY_BASE: '100ms',
  JOB_RETRY_MAX: '3s',
  OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
};
const service = runHookrelay(t, env);
const base = await service.ready();
const admin = client(base, ADMIN_KEY);

interface Tenant {
  id: string;
  apiKey: string;
  signingSecret: string;
}
async function newTenant(name: string) {
  const tenant = (await admin('POST', '/v1/admin/tenants', { name })).body as unknown as Tenant;
  const worker = await admin<{ apiKey: string; role: string }>(
    'POST',
    `/v1/admin/tenants/${tenant.id}/keys`,
    {
      role: 'worker',
    },
  );
  return {
    tenant,
    api: client(base, tenant.apiKey),
    worker: client(base, worker.body.apiKey),
    workerKey: worker.body,
  };
}
const { tenant, api, worker, workerKey } = await newTenant('remote');
const other = await newTenant('other');

interface Task {
  jobId: string;
  type: string;
  input: unknown;
  attempt: number;
  maxAttempts: number;
  taskToken: string;
  leaseExpiresAt: string;
  deadline: string;
}
const tasks = client(base);
const claim = async (types: string[], extra: Record<string, unknown> = {}, as = worker) => {
  const response = await as<{ data: Task[] }>('POST', '/v1/worker/claim', { types, ...extra });
  if (response.status !== 200) throw new Error(`claim: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.data;
};
const claimOne = async (type: string) => {
  const [task] = await claim([type], { waitSeconds: 10 });
  if (!task) throw new Error(`no ${type} job claimed`);
  return task;
};
async function submit(type: string, input: unknown, extra: Record<string, unknown> = {}): Promise<string> {
  const response = await api('POST', '/v1/jobs', { type, input, ...extra });
  if (response.status !== 202)
    throw new Error(`not accepted: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.id as string;
}
const ended = async (id: string) =>
  waitFor(`job ${id} to end`, async () => {
    const job = (await api<Job>('GET', `/v1/jobs/${id}?waitSeconds=5`)).body;
    return ['succeeded', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
  });

const receiver = await upstream(t, () => ({ status: 200 }));
const endpoint = (
  await api<{ id: string; secret: string }>('POST', '/v1/endpoints', {
    url: `${receiver.url}/hooks`,
    eventTypes: ['job.succeeded', 'job.failed', 'job.progress'],
  })
).body;

t.test('a tenant registers, lists, shows, replaces and deletes its own types', async (t) => {
  const put = await api('PUT', '/v1/job-types/report.build', {
    execution: 'remote',
    inputSchema: {
      type: 'object',
      properties: { year: { type: 'integer', minimum: 2000 } },
      required: ['year'],
    },
    heartbeatSeconds: 5,
    timeoutSeconds: 60,
    description: 'yearly report',
  });
  t.equal(put.status, 201);
  t.match(put.body, { name: 'report.build', execution: 'remote', heartbeatSeconds: 5, timeoutSeconds: 60 });
  const again = await api('PUT', '/v1/job-types/report.build', {
    execution: 'remote',
    inputSchema: {
      type: 'object',
      properties: { year: { type: 'integer', minimum: 2000 } },
      required: ['year'],
    },
    heartbeatSeconds: 5,
    timeoutSeconds: 60,
  });
  t.equal(again.status, 200, 'a replacement is 200');
  const listed = (await api<{ data: Array<{ name: string; execution: string }> }>('GET', '/v1/job-types'))
    .body.data;
  t.match(
    listed.find((type) => type.name === 'report.build'),
    { execution: 'remote' },
  );
  t.match(
    listed.find((type) => type.name === 'echo'),
    { execution: 'builtin', heartbeatSeconds: null },
  );
  t.equal((await other.api('GET', '/v1/job-types/report.build')).status, 404, "another tenant's type is 404");
  t.notOk(
    (await other.api<{ data: Array<{ name: string }> }>('GET', '/v1/job-types')).body.data.some(
      (type) => type.name === 'report.build',
    ),
  );

  const refused = await api('POST', '/v1/jobs', { type: 'report.build', input: { year: 1999 } });
  t.equal(refused.status, 400, 'input checked against the JSON Schema');
  t.match(refused.body.errors, [{ path: 'body.input.year' }]);
  t.equal((await api('POST', '/v1/jobs', { type: 'report.build', input: {} })).status, 400);
  t.equal((await other.api('POST', '/v1/jobs', { type: 'report.build', input: { year: 2020 } })).status, 422);

  t.equal((await api('PUT', '/v1/job-types/echo', { execution: 'remote' })).status, 409, 'a built-in name');
  t.equal((await api('DELETE', '/v1/job-types/echo')).status, 409);
  const badSchema = await api('PUT', '/v1/job-types/bad.schema', {
    execution: 'remote',
    inputSchema: { type: 'no-such-type' },
  });
  t.equal(badSchema.status, 400);
  t.match(badSchema.body.errors, [{ path: 'body.inputSchema' }]);
  const metadata = await api('PUT', '/v1/job-types/push.meta', {
    execution: 'push',
    url: 'http://169.254.169.254/latest',
  });
  t.equal(metadata.status, 422, 'a push URL the outbound guard refuses');
  t.equal((await api('PUT', '/v1/job-types/push.nourl', { execution: 'push' })).status, 400);
  // A tenant's patterns run in the API process on every submission: on a linear-time engine, so a pattern that
  // backtracks exponentially costs what any other does, and one it cannot run is refused at registration.
  const backtracking = await api('PUT', '/v1/job-types/redos.x', {
    execution: 'remote',
    inputSchema: { type: 'object', properties: { name: { type: 'string', pattern: '^(a+)+$' } } },
  });
  t.equal(backtracking.status, 201);
  // On JavaScript's own engine this request would never be answered (the test would time out).
  const slow = await api('POST', '/v1/jobs', { type: 'redos.x', input: { name: `${'a'.repeat(100_000)}!` } });
  t.equal(slow.status, 400);
  const backreference = await api('PUT', '/v1/job-types/backref.x', {
    execution: 'remote',
    inputSchema: { type: 'string', pattern: '(a)\\1' },
  });
  t.match(backreference, { status: 400, body: { errors: [{ path: 'body.inputSchema' }] } });
  t.equal((await api('PUT', '/v1/job-types/Bad Name', { execution: 'remote' })).status, 400);
  t.equal((await api('PUT', '/v1/job-types/x.y', { execution: 'remote', heartbeatSeconds: 1 })).status, 400);

  await api('PUT', '/v1/job-types/short.lived', { execution: 'remote' });
  const id = await submit('short.lived', {});
  t.equal((await api('DELETE', '/v1/job-types/short.lived')).status, 409, 'a type with queued jobs stays');
  t.equal((await api('POST', `/v1/jobs/${id}/cancel`)).status, 200);
  t.equal((await api('DELETE', '/v1/job-types/short.lived')).status, 204);
  t.equal((await api('GET', '/v1/job-types/short.lived')).status, 404);
});

t.test('worker keys reach only /v1/worker/*', async (t) => {
  t.equal(workerKey.role, 'worker');
  for (const [method, path] of [
    ['GET', '/v1/jobs'],
    ['POST', '/v1/jobs'],
    ['GET', '/v1/job-types'],
    ['GET', '/v1/endpoints'],
    ['GET', '/v1/admin/tenants'],
  ] as const) {
    const response = await worker(method, path, method === 'POST' ? { type: 'echo', input: 1 } : undefined);
    t.equal(response.status, 403, `${method} ${path}`);
  }
  t.equal((await admin('POST', '/v1/worker/claim', { types: ['report.build'] })).status, 403, 'operator key');
  t.equal((await tasks('POST', '/v1/worker/claim', { types: ['report.build'] })).status, 401, 'no key');
  const notRemote = await worker('POST', '/v1/worker/claim', { types: ['echo'] });
  t.equal(notRemote.status, 422, 'only remote types are claimed');
  t.equal(
    (await api('POST', '/v1/worker/claim', { types: ['report.build'] })).status,
    200,
    'tenant keys too',
  );
});

t.test(
  'a claimed job: progress over SSE and as webhooks, completion delivered as a signed webhook',
  async (t) => {
    const id = await submit('report.build', { year: 2026 }, { endpointId: endpoint.id });
    const stream = readEvents(base, tenant.apiKey, id);
    const task = await claimOne('report.build');
    t.match(task, { jobId: id, type: 'report.build', input: { year: 2026 }, attempt: 1, maxAttempts: 3 });
    t.match(task.taskToken, /^tt_[A-Za-z0-9_-]{43}$/);
    t.ok(
      Date.parse(task.deadline) > Date.parse(task.leaseExpiresAt),
      'the lease is shorter than the deadline',
    );
    const running = (await api<Job & { execution: string; leaseExpiresAt: string }>('GET', `/v1/jobs/${id}`))
      .body;
    t.match(running, { status: 'running', execution: 'remote', leaseExpiresAt: task.leaseExpiresAt });

    for (const percent of [30, 60]) {
      const beat = await tasks<{ leaseExpiresAt: string }>('POST', `/v1/tasks/${task.taskToken}/heartbeat`, {
        progress: { percent, message: `at ${percent}` },
      });
      t.equal(beat.status, 200);
      t.ok(Date.parse(beat.body.leaseExpiresAt) >= Date.parse(task.leaseExpiresAt), 'the lease moves on');
    }
    t.equal((await tasks('POST', `/v1/tasks/${task.taskToken}/heartbeat`)).status, 200, 'a bare heartbeat');
    t.match((await api('GET', `/v1/jobs/${id}`)).body, { lastHeartbeatAt: String });
    const done = await tasks('POST', `/v1/tasks/${task.taskToken}/complete`, { result: { pages: 12 } });
    t.match(done, { status: 200, body: { jobId: id, status: 'succeeded' } });
    const again = await tasks('POST', `/v1/tasks/${task.taskToken}/complete`, { result: { pages: 13 } });
    t.match(again, { status: 409, body: { title: 'Attempt ended' } });

    const { events } = await stream;
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.data.progress.percent);
    t.same(progress, [30, 60], 'progress reached the SSE stream');
    t.match(events.at(-1)?.data, { status: 'succeeded', result: { pages: 12 } });

    const hooks = await waitFor('the webhooks', () => {
      const mine = receiver.requests.filter((r) => r.body.includes(id));
      return mine.some((r) => r.body.includes('job.succeeded')) ? mine : undefined;
    });
    const verified = hooks.map((r: Recorded) => verifiedWebhook(endpoint.secret, r));
    t.same(
      verified.map((hook) => hook.type),
      ['job.progress', 'job.progress', 'job.succeeded'],
    );
    t.match(verified[0]?.data, { jobId: id, progress: { percent: 30, message: 'at 30' } });
    t.match(verified[2]?.data, { jobId: id, status: 'succeeded', result: { pages: 12 } });
  },
);

t.test(
  'a worker that stops heartbeating loses the job to another; its late reports change nothing',
  async (t) => {
    const id = await submit('report.build', { year: 2027 }, { maxAttempts: 3 });
    const first = await claimOne('report.build');
    // No heartbeat: the 5 s lease lapses, the attempt counts as failed, and after the backoff the job is due again.
    const second = await claimOne('report.build');
    t.equal(second.jobId, id);
    t.equal(second.attempt, 2);
    const late = await tasks('POST', `/v1/tasks/${first.taskToken}/complete`, { result: 'late' });
    t.match(late, { status: 409, body: { title: 'Lease lost' } });
    t.match((await tasks('POST', `/v1/tasks/${first.taskToken}/heartbeat`)).body, { title: 'Lease lost' });
    t.match(
      (await tasks('POST', `/v1/tasks/${first.taskToken}/fail`, { error: { message: 'x' } })).status,
      409,
    );
    t.equal(
      (await tasks('POST', `/v1/tasks/${second.taskToken}/complete`, { result: 'second' })).status,
      200,
    );
    const job = await ended(id);
    t.match(job, { status: 'succeeded', attempts: 2, result: 'second' });
  },
);

t.test('fail: retry false fails at once; retryAfterSeconds is honoured; attempts run out', async (t) => {
  const permanent = await submit('report.build', { year: 2028 });
  const task = await claimOne('report.build');
  t.equal(task.jobId, permanent);
  const failed = await tasks('POST', `/v1/tasks/${task.taskToken}/fail`, {
    error: { message: 'no such year', code: 'E_YEAR' },
    retry: false,
  });
  t.match(failed.body, { jobId: permanent, status: 'failed', nextAttemptAt: null });
  t.match(await ended(permanent), { status: 'failed', attempts: 1, error: 'E_YEAR: no such year' });

  const later = await submit('report.build', { year: 2029 }, { maxAttempts: 2 });
  const one = await claimOne('report.build');
  const asked = Date.now();
  const retried = await tasks<{ status: string; nextAttemptAt: string }>(
    'POST',
    `/v1/tasks/${one.taskToken}/fail`,
    {
      error: { message: 'busy' },
      retryAfterSeconds: 2,
    },
  );
  t.equal(retried.body.status, 'queued');
  t.ok(Date.parse(retried.body.nextAttemptAt) - asked >= 1500, 'due after the asked delay');
  t.same(await claim(['report.build']), [], 'not due before it');
  const two = await claimOne('report.build');
  t.equal(two.jobId, later);
  t.ok(Date.now() - asked >= 1900, `claimed ${Date.now() - asked} ms later`);
  const last = await tasks('POST', `/v1/tasks/${two.taskToken}/fail`, { error: { message: 'still busy' } });
  t.match(last.body, { status: 'failed' }, 'the last attempt failing fails the job');
});

t.test('cancel reaches the worker as a 409 on its next heartbeat', async (t) => {
  const id = await submit('report.build', { year: 2030 });
  const task = await claimOne('report.build');
  const cancelled = await api<Job>('POST', `/v1/jobs/${id}/cancel`);
  t.equal(cancelled.body.status, 'cancelled', 'at once');
  const beat = await tasks('POST', `/v1/tasks/${task.taskToken}/heartbeat`, { progress: { percent: 50 } });
  t.match(beat, { status: 409, body: { title: 'Attempt cancelled' } });
  t.equal((await tasks('POST', `/v1/tasks/${task.taskToken}/complete`, { result: 1 })).status, 409);
  t.match((await api<Job>('GET', `/v1/jobs/${id}`)).body, { status: 'cancelled', result: null });
});

t.test('a long poll waits for a job and is woken by its submission', async (t) => {
  const started = Date.now();
  const waiting = claim(['report.build'], { waitSeconds: 20, max: 5 });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const id = await submit('report.build', { year: 2031 });
  const got = await waiting;
  t.equal(got[0]?.jobId, id);
  t.ok(Date.now() - started < 10_000, 'woken, not at the end of the wait');
  await tasks('POST', `/v1/tasks/${got[0]?.taskToken}/complete`, { result: null });
  const empty = Date.now();
  t.same(await claim(['report.build'], { waitSeconds: 1 }), []);
  t.ok(Date.now() - empty >= 900, 'an empty answer after the wait');
});

t.test('tokens and jobs stay within their tenant; guessing a token is a 404', async (t) => {
  await other.api('PUT', '/v1/job-types/report.build', { execution: 'remote' });
  const id = await submit('report.build', { year: 2032 });
  t.same(
    await claim(['report.build'], {}, other.worker),
    [],
    "another tenant's worker gets none of its jobs",
  );
  const task = await claimOne('report.build');
  t.equal(task.jobId, id);
  t.equal((await other.api('GET', `/v1/jobs/${id}`)).status, 404);
  for (const token of ['tt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'nope', `${task.taskToken}x`]) {
    t.equal((await tasks('POST', `/v1/tasks/${token}/heartbeat`)).status, 404, token);
  }
  await tasks('POST', `/v1/tasks/${task.taskToken}/complete`, { result: 1 });
});

t.test(
  'push types: 200 completes, 202 hands over to the token, 503 retried after Retry-After, 4xx fails',
  async (t) => {
    let flaky = 0;
    const pushed = await upstream(t, (request): Answer => {
      const mode = (JSON.parse(request.body) as { data: { input: { mode: string } } }).data.input.mode;
      if (mode === '200')
        return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
      if (mode === '202') return { status: 202 };
      if (mode === 'flaky') {
        flaky += 1;
        return flaky === 1
          ? { status: 503, headers: { 'retry-after': '1' } }
          : { status: 200, body: '"second"' };
      }
      if (mode === 'garbage') return { status: 200, body: '{"nul": "\\u0000"}' };
      return { status: 422, body: 'bad input' };
    });
    const put = await api('PUT', '/v1/job-types/push.run', {
      execution: 'push',
      url: `${pushed.url}/run`,
      heartbeatSeconds: 5,
    });
    t.equal(put.status, 201);

    const ok = await ended(await submit('push.run', { mode: '200' }));
    t.match(ok, { status: 'succeeded', attempts: 1, result: { ok: true } });
    const request = pushed.requests[0] as Recorded;
    const verified = verifiedWebhook(tenant.signingSecret, request);
    t.match(verified, { type: 'job.execute', data: { jobId: ok.id, input: { mode: '200' }, attempt: 1 } });
    t.equal(request.headers['webhook-id'], `${ok.id}.1`);

    const handed = await submit('push.run', { mode: '202' });
    const token = await waitFor('the push', () => {
      const found = pushed.requests.find((r) => r.body.includes(handed));
      return found && (JSON.parse(found.body) as { data: { taskToken: string } }).data.taskToken;
    });
    await waitFor('the hand-over', async () => {
      const job = (await api<Job & { lastHeartbeatAt: string | null }>('GET', `/v1/jobs/${handed}`)).body;
      return job.lastHeartbeatAt !== null || undefined;
    });
    t.equal((await tasks('POST', `/v1/tasks/${token}/heartbeat`, { progress: { percent: 50 } })).status, 200);
    t.equal((await tasks('POST', `/v1/tasks/${token}/complete`, { result: 'later' })).status, 200);
    t.match(await ended(handed), { status: 'succeeded', result: 'later', attempts: 1 });

    const sent = Date.now();
    const retried = await ended(await submit('push.run', { mode: 'flaky' }));
    t.match(retried, { status: 'succeeded', attempts: 2, result: 'second' });
    t.ok(Date.now() - sent >= 900, 'the second attempt waited for Retry-After');

    const refused = await ended(await submit('push.run', { mode: '4xx' }));
    t.match(refused, { status: 'failed', attempts: 1, error: /the push answered 422: bad input/ });

    // The work was done: a result that cannot be stored fails the job instead of doing it again.
    const garbage = await ended(await submit('push.run', { mode: 'garbage' }));
    t.match(garbage, { status: 'failed', attempts: 1, error: /the push answer is not storable/ });
  },
);

t.test('a push attempt handed over and never reported: its lease lapses into a retry', async (t) => {
  const pushed = await upstream(t, () => ({ status: 202 }));
  await api('PUT', '/v1/job-types/push.silent', {
    execution: 'push',
    url: `${pushed.url}/`,
    heartbeatSeconds: 5,
  });
  const id = await submit('push.silent', {}, { maxAttempts: 2 });
  const job = await ended(id);
  t.match(job, { status: 'failed', attempts: 2, error: /lease lapsed/ });
  t.equal(pushed.requests.length, 2, 'each attempt POSTed once');
});

t.test('a remote attempt no worker claims any more is counted by the sweep', async (t) => {
  await api('PUT', '/v1/job-types/orphan.x', { execution: 'remote', heartbeatSeconds: 5 });
  const id = await submit('orphan.x', {}, { maxAttempts: 1 });
  await claimOne('orphan.x');
  // Nobody claims orphan.x again. The sweep runs each minute on a pg-boss schedule; here it is called at once, on
  // the service's database, after the lease is moved into the past (as if 5 s had gone by without a heartbeat).
  const pool = createPool(database, 2, createLogger('silent'), 'test-sweep');
  t.teardown(() => pool.end());
  await pool.query("update jobs set next_attempt_at = now() - interval '1 second' where id = $1", [id]);
  const swept = await sweepLapsed({
    config: loadConfig({ DATABASE_URL: database }),
    metrics: createMetrics(pool),
    pool,
  });
  t.equal(swept, 1);
  t.match(await ended(id), { status: 'failed', attempts: 1, error: /lease lapsed/ });
});

t.test('queued jobs of a remote type that is gone are failed by the sweep, not left for ever', async (t) => {
  await api('PUT', '/v1/job-types/gone.x', { execution: 'remote' });
  const id = await submit('gone.x', {});
  // As if another process accepted the job after the type was deleted (its cache had not heard of it yet).
  const pool = createPool(database, 2, createLogger('silent'), 'test-orphans');
  t.teardown(() => pool.end());
  await pool.query("delete from job_types where name = 'gone.x'");
  t.equal(await failOrphaned({ metrics: createMetrics(pool), pool }), 1);
  t.match(await ended(id), { status: 'failed', attempts: 0, error: /no longer a remote job type/ });
});

t.test(
  'schemas that would hold the event loop or recurse for ever are refused at registration',
  async (t) => {
    for (const [what, inputSchema, message] of [
      [
        'uniqueItems without a small maxItems',
        { type: 'array', uniqueItems: true },
        /uniqueItems at \/ needs maxItems/,
      ],
      ['a $ref to itself', { $ref: '#' }, /refers to itself without end/],
      ['a $dynamicRef loop', { $dynamicAnchor: 'x', $dynamicRef: '#x' }, /refers to itself without end/],
      ['a schema over 32 KiB', { description: 'x'.repeat(40_000) }, /at most 32768 bytes/],
    ] as const) {
      const response = await api('PUT', '/v1/job-types/bad.x', { execution: 'remote', inputSchema });
      t.equal(response.status, 400, what);
      t.match(response.body.errors, [{ path: 'body.inputSchema', message }], what);
    }
    const bounded = await api('PUT', '/v1/job-types/unique.x', {
      execution: 'remote',
      inputSchema: { type: 'array', uniqueItems: true, maxItems: 10 },
    });
    t.equal(bounded.status, 201, 'uniqueItems with a small maxItems is taken');
    t.equal((await api('POST', '/v1/jobs', { type: 'unique.x', input: [1, 1] })).status, 400);
  },
);

t.test(
  'task reports: a number too large for a double is refused; a flood of reports is rate limited',
  async (t) => {
    await submit('report.build', { year: 2033 });
    const task = await claimOne('report.build');
    const huge = await fetch(`${base}/v1/tasks/${task.taskToken}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"result": 1e999}',
    });
    t.equal(huge.status, 400, 'not stored as null without a word');
    const beats = await Promise.all(
      Array.from({ length: 30 }, () => tasks('POST', `/v1/tasks/${task.taskToken}/heartbeat`)),
    );
    const limited = beats.filter((beat) => beat.status === 429);
    t.ok(limited.length > 0, `${limited.length} of 30 heartbeats in one burst were answered 429`);
    t.ok(limited[0]?.headers.get('retry-after'), 'with Retry-After');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    t.equal(
      (await tasks('POST', `/v1/tasks/${task.taskToken}/complete`, { result: 1 })).status,
      200,
      'a second later',
    );
  },
);

t.test(
  'a push worker that heartbeats before it answers does not shorten the lease its POST holds',
  async (t) => {
    const pushed = await upstream(t, (request): Answer => {
      const { taskToken } = (JSON.parse(request.body) as { data: { taskToken: string } }).data;
      // Progress through the token while the POST is still open, then the result after longer than the
      // type's heartbeatSeconds: the POST's own lease must hold the job meanwhile, or it would go out twice.
      void tasks('POST', `/v1/tasks/${taskToken}/heartbeat`, { progress: { percent: 50 } });
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: '"synchronous"',
        delayMs: 7_000,
      };
    });
    await api('PUT', '/v1/job-types/push.sync', {
      execution: 'push',
      url: `${pushed.url}/`,
      heartbeatSeconds: 5,
    });
    const job = await ended(await submit('push.sync', {}));
    t.match(job, { status: 'succeeded', attempts: 1, result: 'synchronous' });
    t.equal(pushed.requests.length, 1, 'POSTed once');
  },
);
