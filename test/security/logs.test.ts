// A full run of the real service at LOG_LEVEL=trace, then a grep of everything it wrote: no API key, signing
// secret, endpoint header value, job input or result, or webhook or upstream body may appear in its logs.
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { client } from '../helpers/client.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY } from '../helpers/jobs-app.ts';
import { runHookrelay } from '../helpers/process.ts';
import { upstream } from '../helpers/upstream.ts';

// Marked values: each is unmistakable in the output if anything logs it.
const INPUT = 'input-card-4111111111111111';
const RESULT_FROM_UPSTREAM = 'upstream-body-ssn-078051120';
const UPSTREAM_TOKEN = 'upstream-bearer-token-d9f8';
const ENDPOINT_HEADER = 'endpoint-header-value-7c1e';
const RECEIVER_BODY = 'receiver-error-body-5a2b';
const IDEMPOTENCY_KEY = 'idempotency-key-31f0';
const METADATA = 'metadata-value-e4e4';
const REJECTED_BODY = 'rejected-body-9d9d';
const REMOTE_RESULT = 'remote-result-6b1f';
const PROGRESS_MESSAGE = 'progress-message-2c8e';

t.test('a full run logs no secret and no payload', async (t) => {
  let failing = true;
  const receiver = await upstream(t, (request) => {
    if (request.url === '/upstream')
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: RESULT_FROM_UPSTREAM }),
      };
    if (request.url === '/gone') return { status: 410, body: RECEIVER_BODY };
    if (request.url === '/push') return { status: 202 };
    return failing ? { status: 500, body: RECEIVER_BODY } : { status: 200, body: RECEIVER_BODY };
  });
  const service = runHookrelay(t, {
    DATABASE_URL: await freshDatabase(t),
    ADMIN_API_KEY: ADMIN_KEY,
    OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
    DELIVERY_RETRY_SCHEDULE: '100ms,100ms',
    LOG_LEVEL: 'trace',
  });
  const base = await service.ready();
  const admin = client(base, ADMIN_KEY);
  const tenant = (
    await admin<{ id: string; apiKey: string; signingSecret: string }>('POST', '/v1/admin/tenants', {
      name: 'logged',
    })
  ).body;
  const extraKey = (
    await admin<{ id: string; apiKey: string }>('POST', `/v1/admin/tenants/${tenant.id}/keys`)
  ).body;
  const api = client(base, tenant.apiKey);

  const endpoint = (
    await api<{ id: string; secret: string }>('POST', '/v1/endpoints', {
      url: `${receiver.url}/hook`,
      headers: { 'x-partner-token': ENDPOINT_HEADER },
    })
  ).body;
  const rotated = (await api<{ secret: string }>('POST', `/v1/endpoints/${endpoint.id}/secret/rotate`)).body;
  const gone = (await api<{ id: string }>('POST', '/v1/endpoints', { url: `${receiver.url}/gone` })).body;

  // Jobs of every kind: to the endpoint (fails, then succeeds), to a callback, an http call, a dead letter.
  const jobs = [
    await api<{ id: string }>(
      'POST',
      '/v1/jobs',
      { type: 'echo', input: { card: INPUT }, endpointId: endpoint.id, metadata: { m: METADATA } },
      { 'idempotency-key': IDEMPOTENCY_KEY },
    ),
    await api<{ id: string }>('POST', '/v1/jobs', {
      type: 'echo',
      input: INPUT,
      callbackUrl: `${receiver.url}/callback`,
    }),
    await api<{ id: string }>('POST', '/v1/jobs', {
      type: 'http',
      input: {
        url: `${receiver.url}/upstream`,
        method: 'POST',
        headers: { authorization: `Bearer ${UPSTREAM_TOKEN}` },
        body: { card: INPUT },
      },
    }),
    await api<{ id: string }>('POST', '/v1/jobs', { type: 'echo', input: INPUT, endpointId: gone.id }),
  ].map((response) => response.body.id);
  for (const id of jobs) {
    const job = (await api<{ status: string }>('GET', `/v1/jobs/${id}?waitSeconds=30`)).body;
    t.equal(job.status, 'succeeded', `job ${id} ran`);
  }
  const dead = async () => (await api<{ data: Array<{ id: string }> }>('GET', '/v1/dead-letters')).body.data;
  // The endpoint's message and the callback's fail every attempt; the one to /gone ends at once.
  await waitFor('3 dead letters', async () => (await dead()).length >= 3, 30_000);
  failing = false;
  const hooksBefore = receiver.requests.filter((r) => r.url === '/hook').length;
  const replayed = await api('POST', '/v1/dead-letters/replay', {});
  // Three, or more: the http job, which names no endpoint, fans out to both endpoints as well.
  t.ok(Number(replayed.body.replayed) >= 3, `${replayed.body.replayed} dead letters were replayed`);
  await api('POST', `/v1/endpoints/${endpoint.id}/test`);
  // Requests that fail carry secrets and payloads too.
  await api('POST', '/v1/jobs', `{"type":"echo","input":"${REJECTED_BODY}"`);
  await api('POST', '/v1/jobs', { type: 'echo', input: REJECTED_BODY, timeoutSeconds: REJECTED_BODY });
  await client(base, `${tenant.apiKey}x`)('GET', '/v1/jobs');

  // Remote and push attempts: a worker key, task tokens in URLs (reported, mistyped), progress, results.
  const workerKey = (
    await admin<{ apiKey: string }>('POST', `/v1/admin/tenants/${tenant.id}/keys`, { role: 'worker' })
  ).body.apiKey;
  await api('PUT', '/v1/job-types/logged.remote', { execution: 'remote' });
  await api('PUT', '/v1/job-types/logged.push', { execution: 'push', url: `${receiver.url}/push` });
  const remoteJob = (await api<{ id: string }>('POST', '/v1/jobs', { type: 'logged.remote', input: INPUT }))
    .body.id;
  const pushJob = (await api<{ id: string }>('POST', '/v1/jobs', { type: 'logged.push', input: INPUT })).body
    .id;
  const claimed = await client(base, workerKey)<{ data: Array<{ taskToken: string }> }>(
    'POST',
    '/v1/worker/claim',
    {
      types: ['logged.remote'],
      waitSeconds: 10,
    },
  );
  const remoteToken = claimed.body.data[0]?.taskToken as string;
  const pushToken = await waitFor('the push', () => {
    const push = receiver.requests.find((r) => r.url === '/push');
    return push && (JSON.parse(push.body) as { data: { taskToken: string } }).data.taskToken;
  });
  const reports = client(base);
  for (const token of [remoteToken, pushToken]) {
    await reports('POST', `/v1/tasks/${token}/heartbeat`, {
      progress: { percent: 10, message: PROGRESS_MESSAGE },
    });
    await reports('POST', `/v1/tasks/${token}/nonsense`);
    await reports('POST', `/v1/tasks/${token}/heartbeat`, { progress: { percent: 'x' } });
  }
  await reports('POST', `/v1/tasks/${remoteToken}/complete`, { result: REMOTE_RESULT });
  await reports('POST', `/v1/tasks/${pushToken}/fail`, { error: { message: REMOTE_RESULT }, retry: false });
  await reports('POST', `/v1/tasks/${remoteToken}/complete`, { result: REMOTE_RESULT });
  for (const id of [remoteJob, pushJob]) {
    const job = (await api<{ status: string }>('GET', `/v1/jobs/${id}?waitSeconds=30`)).body;
    t.ok(['succeeded', 'failed'].includes(job.status), `job ${id} ended`);
  }
  const events = await fetch(`${base}/v1/jobs/${jobs[0]}/events`, {
    headers: { authorization: `Bearer ${extraKey.apiKey}` },
  });
  t.match(await events.text(), /event: status/, 'an event stream was followed');
  await admin('DELETE', `/v1/admin/tenants/${tenant.id}/keys/${extraKey.id}`);
  // The replayed and test messages reach the endpoint, now answering 200: their deliveries are logged too.
  await waitFor(
    'a delivery to the endpoint after the replay',
    () => receiver.requests.filter((r) => r.url === '/hook').length > hooksBefore,
  );
  await new Promise((resolve) => setTimeout(resolve, 1_000));

  service.child.kill('SIGTERM');
  t.equal((await service.exited).code, 0, 'stopped cleanly');
  const output = `${service.logs.map((line) => JSON.stringify(line)).join('\n')}\n${service.stderr()}`;
  t.ok(service.logs.length > 50, `${service.logs.length} log lines to search`);
  t.ok(
    output.includes(endpoint.id) && output.includes(jobs[0] as string),
    'ids are logged (the grep sees real logs)',
  );
  const secrets = {
    'the operator key': ADMIN_KEY,
    'the API key': tenant.apiKey,
    'the second API key': extraKey.apiKey,
    'the tenant signing secret': tenant.signingSecret,
    'the endpoint secret': endpoint.secret,
    'the rotated secret': rotated.secret,
    'an endpoint header value': ENDPOINT_HEADER,
    'a job input': INPUT,
    'an upstream response body': RESULT_FROM_UPSTREAM,
    'an upstream authorization header': UPSTREAM_TOKEN,
    'a receiver response body': RECEIVER_BODY,
    'an Idempotency-Key': IDEMPOTENCY_KEY,
    'job metadata': METADATA,
    'a rejected request body': REJECTED_BODY,
    'a worker key': workerKey,
    'a remote task token': remoteToken,
    'a push task token': pushToken,
    'a remote result': REMOTE_RESULT,
    'a progress message': PROGRESS_MESSAGE,
  };
  for (const [what, value] of Object.entries(secrets)) {
    // Secrets are also searched for without their prefix, in case something logs a part of one.
    const core = value.replace(/^(whsec_|hr_|tt_)/, '').slice(0, 24);
    t.notOk(output.includes(core), `${what} appears nowhere in the logs`);
  }
});
