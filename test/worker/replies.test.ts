// The worker client's pure parts with fixed vectors (how an answer is classified, how a handler's end is
// reported), and its claim loop against a scripted HTTP server for the answers the real service gives only when
// something is wrong: 503 with Retry-After, a refused key, a proxy that answers long polls at once.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  PermanentJobError,
  RetryLaterError,
  runWorker,
  TaskEndedError,
  WorkerRefusedError,
} from 'hookrelay/worker';
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { classify } from '../../src/worker/http.ts';
import { leftOf } from '../../src/worker/lease.ts';
import { failed, succeeded, TaskAbortedError } from '../../src/worker/outcome.ts';
import { type Answer, upstream } from '../helpers/upstream.ts';

const problem = (title: string) => JSON.stringify({ type: 'about:blank', title, status: 0 });

t.test('answers sort into ok, ended, transient and refused', async (t) => {
  const now = Date.parse('2026-12-01T10:00:00Z');
  t.match(classify(200, { date: 'Tue, 01 Dec 2026 10:00:05 GMT' }, '{"data":[]}', now), {
    kind: 'ok',
    body: { data: [] },
    serverNow: now + 5_000,
  });
  t.match(classify(200, {}, '', now), { kind: 'ok', body: {}, serverNow: undefined });
  t.match(classify(200, {}, '<html>', now), { kind: 'transient' }, "a proxy's page is no answer");
  t.match(classify(409, {}, problem('Attempt cancelled'), now), {
    kind: 'ended',
    status: 409,
    title: 'Attempt cancelled',
  });
  t.match(classify(404, {}, 'not json', now), { kind: 'ended', status: 404, title: 'HTTP 404' });
  t.match(classify(503, { 'retry-after': '7' }, problem('Service Unavailable'), now), {
    kind: 'transient',
    retryAfterMs: 7_000,
  });
  t.match(classify(429, { 'retry-after': 'Tue, 01 Dec 2026 10:00:02 GMT' }, '', now), {
    kind: 'transient',
    retryAfterMs: 2_000,
  });
  t.match(classify(408, {}, '', now), { kind: 'transient', retryAfterMs: undefined });
  t.match(classify(401, {}, JSON.stringify({ title: 'Unauthorized', detail: 'bad key' }), now), {
    kind: 'refused',
    status: 401,
    title: 'Unauthorized',
    detail: 'bad key',
  });
  t.match(classify(422, {}, problem('Unprocessable Entity'), now), { kind: 'refused', status: 422 });
});

t.test("a lease's time left is read on the server's clock when its answer gives it", async (t) => {
  const at = '2026-12-01T10:00:30.000Z';
  const server = Date.parse('2026-12-01T10:00:00Z');
  t.equal(
    leftOf(at, server, server + 3_600_000),
    29_000,
    'a worker clock an hour ahead changes nothing; the Date header is read at the end of its second',
  );
  t.equal(leftOf(at, undefined, server + 10_000), 20_000, 'without a Date header, the local clock');
});

t.test("a handler's end is reported as the errors that steer retries say", async (t) => {
  const body = (report: { json: string }) => JSON.parse(report.json) as Record<string, unknown>;
  t.same(succeeded({ rows: 3 }), { route: 'complete', json: '{"result":{"rows":3}}' });
  t.same(body(succeeded(undefined)), { result: null }, 'undefined is sent as null');
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  t.match(body(succeeded(cycle)), { error: { message: /the result is not JSON/ }, retry: true });
  t.match(body(succeeded(10n)), { error: { message: /the result is not JSON/ }, retry: true });

  t.same(body(failed(new PermanentJobError('no such account'))), {
    error: { message: 'no such account' },
    retry: false,
  });
  t.same(body(failed(new RetryLaterError('rate limited', 1_500))), {
    error: { message: 'rate limited' },
    retry: true,
    retryAfterSeconds: 1.5,
  });
  t.same(body(failed(new RetryLaterError('soon', 0.2))).retryAfterSeconds, 0.001, 'never sooner than asked');
  t.same(body(failed(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))), {
    error: { message: 'reset', code: 'ECONNRESET' },
    retry: true,
  });
  t.same(body(failed(new TaskAbortedError('deadline passed', 'timeout'))), {
    error: { message: 'deadline passed', code: 'timeout' },
    retry: true,
  });
  t.same(body(failed('a string')), { error: { message: 'a string' }, retry: true });
  t.same(body(failed(new Error(''))), { error: { message: 'Error' }, retry: true });
  const long = (body(failed(new Error('x'.repeat(5_000)))).error as { message: string }).message;
  t.equal(long.length, 1_000, "cut to what hookrelay's fail takes");
  const emoji = (body(failed(new Error(`${'x'.repeat(999)}😀`))).error as { message: string }).message;
  t.ok(emoji.isWellFormed(), 'a cut through a surrogate pair leaves no half of it');
});

t.test('options are checked when the worker is made', async (t) => {
  const handler = async () => 1;
  const base = { url: 'http://127.0.0.1:1', key: 'k' };
  t.throws(() => runWorker({ ...base, types: [], handler }), /1 to 20 job types/);
  t.throws(() => runWorker({ ...base, types: ['Not A Name'], handler }), /not a job type name/);
  t.throws(() => runWorker({ ...base, types: ['a.b'], handler, concurrency: 0 }), /concurrency/);
  t.throws(() => runWorker({ ...base, types: ['a.b'], handler, waitSeconds: 61 }), /waitSeconds/);
  t.throws(() => runWorker({ ...base, url: 'ftp://x', types: ['a.b'], handler }), /http or https/);
  t.throws(() => runWorker({ ...base, key: '', handlers: { 'a.b': handler } }), /key is required/);
});

type Logged = Array<{ level: string; message: string; fields?: Record<string, unknown> }>;

t.test('claims answered 503 with Retry-After are waited out, and the worker goes on', async (t) => {
  const server = await upstream(
    t,
    (_request, index): Answer =>
      index === 0
        ? { status: 503, headers: { 'retry-after': '1' }, body: problem('Service Unavailable') }
        : { status: 200, headers: { 'content-type': 'application/json' }, body: '{"data":[]}' },
  );
  const logged: Logged = [];
  const worker = runWorker({
    url: `${server.url}/prefix`,
    key: 'worker-key',
    types: ['a.b'],
    handler: async () => 1,
    waitSeconds: 0,
    log: (level, message, fields) => logged.push({ level, message, fields }),
  });
  while (server.requests.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
  await worker.stop();
  await worker.done;
  const [first, second] = server.requests;
  t.match(first, {
    method: 'POST',
    url: '/prefix/v1/worker/claim',
    headers: { authorization: 'Bearer worker-key' },
  });
  t.same(JSON.parse(first?.body ?? ''), { types: ['a.b'], max: 1, waitSeconds: 0 });
  t.ok(second, 'asked again');
  t.match(logged, [{ level: 'warn', message: 'claim failed; trying again', fields: { waitMs: 1_000 } }]);
});

t.test('a refused key stops the worker: done rejects, stop() resolves', async (t) => {
  const server = await upstream(t, () => ({
    status: 401,
    headers: { 'content-type': 'application/problem+json' },
    body: JSON.stringify({ title: 'Unauthorized', status: 401, detail: 'unknown API key' }),
  }));
  const worker = runWorker({
    url: server.url,
    key: 'wrong',
    handlers: { 'a.b': async () => 1 },
    log: () => {},
  });
  const error = await worker.done.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(error, WorkerRefusedError);
  t.match(error, { status: 401, title: 'Unauthorized', message: /401 Unauthorized \(unknown API key\)/ });
  t.equal(server.requests.length, 1, 'not asked again');
  await worker.stop();
  t.pass('stop() after the refusal resolves');
});

t.test('a stop abandons a long poll: the connection is closed, not waited out', async (t) => {
  // A service that holds every claim open and never answers.
  const opened: string[] = [];
  const closed: string[] = [];
  const server = http.createServer((request, response) => {
    opened.push(request.url ?? '');
    request.resume();
    // Emitted for an unanswered request only when its connection goes.
    response.on('close', () => closed.push(request.url ?? ''));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const worker = runWorker({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    key: 'k',
    types: ['a.b'],
    handler: async () => 1,
    log: () => {},
  });
  await waitFor('the claim to be open', () => opened.length === 1);
  t.same(closed, [], 'held open');
  await worker.stop();
  await waitFor('the claim to be closed', () => closed.length === 1);
  t.same(closed, ['/v1/worker/claim']);
});

t.test(
  'progress goes at once; calls made while a heartbeat is in flight are coalesced into the next',
  async (t) => {
    const token = `tt_${'a'.repeat(43)}`;
    const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();
    let claims = 0;
    const server = await upstream(t, (request): Answer => {
      const json = (body: unknown, delayMs = 0) => ({
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        delayMs,
      });
      if (request.url === '/v1/worker/claim')
        return json({
          data:
            claims++ === 0
              ? [
                  {
                    jobId: 'job_1',
                    type: 'a.b',
                    input: {},
                    attempt: 1,
                    maxAttempts: 3,
                    metadata: {},
                    taskToken: token,
                    leaseExpiresAt: inSeconds(30),
                    deadline: inSeconds(60),
                  },
                ]
              : [],
        });
      if (request.url.endsWith('/heartbeat')) return json({ leaseExpiresAt: inSeconds(30) }, 100);
      return json({ jobId: 'job_1', status: 'succeeded' });
    });
    const worker = runWorker({
      url: server.url,
      key: 'k',
      types: ['a.b'],
      waitSeconds: 0,
      log: () => {},
      async handler(task) {
        await Promise.all(Array.from({ length: 10 }, (_, i) => task.progress(i + 1, `step ${i + 1}`)));
        return 'ok';
      },
    });
    await waitFor('the report', () => server.requests.some((r) => r.url.endsWith('/complete')));
    await worker.stop();
    const sent = server.requests
      .filter((r) => r.url.startsWith('/v1/tasks/'))
      .map((r) => [r.url, JSON.parse(r.body)]);
    t.same(sent, [
      [`/v1/tasks/${token}/heartbeat`, { progress: { percent: 1, message: 'step 1' } }],
      [`/v1/tasks/${token}/heartbeat`, { progress: { percent: 10, message: 'step 10' } }],
      [`/v1/tasks/${token}/complete`, { result: 'ok' }],
    ]);
    t.notOk(
      server.requests.some((r) => r.url.startsWith('/v1/tasks/') && r.headers.authorization),
      'the token is the credential: no key is sent with it',
    );
  },
);

t.test('heartbeats that do not get through end the attempt before its lease runs out', async (t) => {
  const token = `tt_${'b'.repeat(43)}`;
  const leaseMs = 2_000;
  let claims = 0;
  let claimedAt = 0;
  const server = await upstream(t, (request): Answer => {
    if (request.url === '/v1/worker/claim') {
      const first = claims++ === 0;
      if (first) claimedAt = Date.now();
      const task = {
        jobId: 'job_2',
        type: 'a.b',
        input: {},
        attempt: 1,
        maxAttempts: 3,
        metadata: {},
        taskToken: token,
        leaseExpiresAt: new Date(Date.now() + leaseMs).toISOString(),
        deadline: new Date(Date.now() + 60_000).toISOString(),
      };
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: first ? [task] : [] }),
      };
    }
    // Every heartbeat fails: a partition between the worker and the service.
    return { status: 503, body: problem('Service Unavailable') };
  });
  let abortedAfter: number | undefined;
  let reason: unknown;
  const worker = runWorker({
    url: server.url,
    key: 'k',
    types: ['a.b'],
    waitSeconds: 0,
    log: () => {},
    handler: (task) =>
      new Promise((_resolve, reject) => {
        // A handler that honours its signal; without it, this one would run for ever.
        task.signal.addEventListener('abort', () => {
          abortedAfter = Date.now() - claimedAt;
          reason = task.signal.reason;
          reject(task.signal.reason);
        });
      }),
  });
  await waitFor('the attempt to end', () => abortedAfter !== undefined, 10_000);
  await worker.stop();
  t.type(reason, TaskEndedError);
  t.match(reason, { title: 'Lease lost', status: 0 });
  t.ok(
    (abortedAfter as number) < leaseMs,
    `ended ${abortedAfter} ms after the claim, within the ${leaseMs} ms lease`,
  );
  t.notOk(
    server.requests.some((r) => r.url.endsWith('/complete') || r.url.endsWith('/fail')),
    'nothing reported for an attempt whose lease may be another worker’s',
  );
});
