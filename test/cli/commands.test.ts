// The `hookrelay` client commands against a real service process on a real Postgres: operator and tenant
// commands, errors as problem titles with a non-zero exit, and `listen` verifying signatures (--help: help.test.ts).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { cli, listener } from '../helpers/cli.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY } from '../helpers/jobs-app.ts';
import { runHookrelay } from '../helpers/process.ts';
import { upstream } from '../helpers/upstream.ts';

const service = runHookrelay(t, {
  DATABASE_URL: await freshDatabase(t),
  ADMIN_API_KEY: ADMIN_KEY,
  OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
});
const base = await service.ready();
const operator = cli(base, ADMIN_KEY);

const json = <T>(text: string) => JSON.parse(text) as T;

const created = await operator(['tenants', 'create', 'acme', '--json']);
const tenant = json<{ id: string; apiKey: string; signingSecret: string }>(created.stdout);
const hookrelay = cli(base, tenant.apiKey);

t.test('operator commands: tenants and keys', async (t) => {
  t.equal(created.code, 0);
  t.match(tenant, { id: /^ten_/, apiKey: /^hr_/, signingSecret: /^whsec_/ });
  const listed = await operator(['tenants', 'list']);
  t.equal(listed.code, 0);
  t.match(listed.stdout, tenant.id, 'the table lists the new tenant');

  const issued = await operator(['keys', 'create', tenant.id, '--json']);
  const key = json<{ id: string; apiKey: string }>(issued.stdout);
  t.match(key, { id: /^key_/, apiKey: /^hr_/ });
  t.equal((await cli(base, key.apiKey)(['jobs', 'list'])).code, 0, 'the new key works');
  const revoked = await operator(['keys', 'revoke', tenant.id, key.id]);
  t.equal(revoked.code, 0);
  t.match(revoked.stderr, `revoked ${key.id}`);
  const refused = await cli(base, key.apiKey)(['jobs', 'list']);
  t.equal(refused.code, 1, 'a revoked key is refused');
  t.match(refused.stderr, /Unauthorized \(401\)/);
  const tenantKeyAsOperator = await hookrelay(['tenants', 'list']);
  t.equal(tenantKeyAsOperator.code, 1);
  t.match(tenantKeyAsOperator.stderr, /\(403\)/, 'a tenant key cannot list tenants');
});

t.test('errors print the problem and exit 1', async (t) => {
  const unknown = await hookrelay(['jobs', 'show', 'job_01M8RBE6PM01WB99E8FY944BY0']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /Not Found \(404\): No job job_01M8RBE6PM01WB99E8FY944BY0/);
  const malformed = await hookrelay(['jobs', 'show', 'nope']);
  t.equal(malformed.code, 1);
  t.match(
    malformed.stderr,
    /Bad Request \(400\): The path is not valid\./,
    'the part of the request, in words',
  );
  t.match(malformed.stderr, /id: must be a job_… id/, 'field errors are listed');
  const badJson = await hookrelay(['jobs', 'submit', 'echo', '--input', '{nope']);
  t.equal(badJson.code, 1);
  t.match(badJson.stderr, /--input is not valid JSON/);
  const unknownType = await hookrelay(['jobs', 'submit', 'no.such.type']);
  t.equal(unknownType.code, 1);
  t.match(unknownType.stderr, /\(422\)/);
  const noKey = await cli(base)(['jobs', 'list']);
  t.equal(noKey.code, 1);
  t.match(noKey.stderr, /no API key/);
  const nowhere = await cli('http://127.0.0.1:9', tenant.apiKey)(['jobs', 'list']);
  t.equal(nowhere.code, 1);
  t.match(nowhere.stderr, /cannot reach http:\/\/127\.0\.0\.1:9/);
  const noCommand = await hookrelay(['jobs', 'frobnicate']);
  t.not(noCommand.code, 0, 'an unknown command fails');
});

t.test('endpoints, jobs and messages through `listen`', async (t) => {
  const receiver = await listener(t);
  const made = await hookrelay([
    'endpoints',
    'create',
    `${receiver.url}/hook`,
    '--description',
    'cli test',
    '--header',
    'x-team=payments',
    '--json',
  ]);
  t.equal(made.code, 0, made.stderr);
  const endpoint = json<{ id: string; secret: string; headers: Record<string, string> }>(made.stdout);
  t.same(endpoint.headers, { 'x-team': 'payments' });
  // A second listener that knows the secret: the first one (no secret) reports that it did not check.
  const verifying = await listener(t, ['--secret', endpoint.secret]);
  const updated = await hookrelay(['endpoints', 'update', endpoint.id, '--set-url', `${verifying.url}/hook`]);
  t.equal(updated.code, 0, updated.stderr);
  t.match(updated.stdout, verifying.url);

  const tested = await hookrelay(['endpoints', 'test', endpoint.id, '--json']);
  t.equal(tested.code, 0, tested.stderr);
  const { messageId } = json<{ messageId: string }>(tested.stdout);
  await verifying.until((r) => r.some((w) => w.webhookId === messageId));
  t.match(verifying.received[0], { type: 'endpoint.test', attempt: 1, verified: true });

  const watched = await hookrelay([
    'jobs',
    'submit',
    'echo',
    '--input',
    '{"n":1}',
    '--endpoint',
    endpoint.id,
    '--watch',
  ]);
  t.equal(watched.code, 0, 'a job that succeeds exits 0');
  t.match(watched.stderr, /succeeded 100%/);
  const jobId = /(job_\w+) succeeded after 1 attempt/.exec(watched.stderr)?.[1] as string;
  t.ok(jobId, 'the summary names the job');
  await verifying.until((r) => r.some((w) => w.jobId === jobId));
  t.match(
    verifying.received.find((w) => w.jobId === jobId),
    { type: 'job.succeeded', verified: true },
  );

  const shown = await hookrelay(['endpoints', 'show', endpoint.id]);
  t.match(shown.stdout, /100\.0 % of 2 attempts in 24 h/, 'show reports the success rate');

  const messages = json<{ data: Array<{ id: string; status: string }> }>(
    (await hookrelay(['messages', 'list', '--job', jobId, '--json'])).stdout,
  );
  t.equal(messages.data.length, 1);
  const message = messages.data[0] as { id: string; status: string };
  t.equal(message.status, 'delivered');
  const detail = await hookrelay(['messages', 'show', message.id]);
  t.match(detail.stdout, /attempted/, 'attempts are shown as a table');
  t.match(detail.stdout, /204/);
  const resent = await hookrelay(['messages', 'resend', message.id]);
  t.equal(resent.code, 0);
  await verifying.until((r) => r.filter((w) => w.webhookId === message.id).length === 2);
  t.match(
    verifying.received.filter((w) => w.webhookId === message.id)[1],
    { attempt: 2, verified: true },
    'the resend carries the same webhook-id',
  );

  // After a rotation both secrets sign, so a receiver still on the old one keeps verifying.
  const rotated = json<{ secret: string }>(
    (await hookrelay(['endpoints', 'rotate', endpoint.id, '--json'])).stdout,
  );
  t.not(rotated.secret, endpoint.secret);
  const renewed = await listener(t, ['--secret', rotated.secret]);
  await hookrelay(['endpoints', 'update', endpoint.id, '--set-url', `${renewed.url}/hook`]);
  await hookrelay(['endpoints', 'test', endpoint.id]);
  await renewed.until((r) => r.length === 1);
  t.equal(renewed.received[0]?.verified, true, 'the new secret verifies');
  // A listener that never saw the message prints the delivery's own attempt number (webhook-attempt).
  await hookrelay(['messages', 'resend', message.id]);
  await renewed.until((r) => r.some((w) => w.webhookId === message.id));
  t.match(
    renewed.received.find((w) => w.webhookId === message.id),
    { attempt: 3, verified: true },
  );
  const thrice = json<{ attemptCount: number; attempts: unknown[] }>(
    (await hookrelay(['messages', 'show', message.id, '--json'])).stdout,
  );
  t.equal(thrice.attemptCount, 3, 'attemptCount counts every attempt, across resends');
  t.equal(thrice.attempts.length, 3);

  // A receiver with the wrong secret says so.
  const wrong = await listener(t, ['--secret', tenant.signingSecret]);
  await hookrelay(['endpoints', 'update', endpoint.id, '--set-url', `${wrong.url}/hook`]);
  await hookrelay(['endpoints', 'test', endpoint.id]);
  await wrong.until((r) => r.length === 1);
  t.match(wrong.received[0], { verified: false, problem: /signature/i });

  const listed = await hookrelay(['endpoints', 'list']);
  t.match(listed.stdout, endpoint.id);
  const deleted = await hookrelay(['endpoints', 'delete', endpoint.id]);
  t.equal(deleted.code, 0);
  t.equal((await hookrelay(['endpoints', 'show', endpoint.id])).code, 1, 'a deleted endpoint is gone');
  t.equal(receiver.received.length, 0, 'nothing went to the old URL after the update');
});

t.test('jobs: input from a file, idempotency keys, disabling an endpoint', async (t) => {
  const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'hookrelay-cli-')), 'input.json');
  await fs.writeFile(file, JSON.stringify({ order: 42 }));
  const args = ['jobs', 'submit', 'echo', '--input-file', file, '--idempotency-key', 'order-42'];
  const first = await hookrelay(args);
  t.equal(first.code, 0, first.stderr);
  const again = await hookrelay(args);
  t.equal(again.stdout, first.stdout, 'the same key and body give the same job');
  const job = json<{ input: unknown }>(
    (await hookrelay(['jobs', 'show', first.stdout.trim(), '--json'])).stdout,
  );
  t.same(job.input, { order: 42 }, 'the input came from the file');
  const both = await hookrelay(['jobs', 'submit', 'echo', '--input', '{}', '--input-file', file]);
  t.equal(both.code, 1);
  t.match(both.stderr, /--input or --input-file, not both/);

  const made = json<{ id: string }>(
    (await hookrelay(['endpoints', 'create', 'http://127.0.0.1:9/hook', '--disabled', '--json'])).stdout,
  );
  t.match((await hookrelay(['endpoints', 'show', made.id])).stdout, /disabled\s+│ true/);
  await hookrelay(['endpoints', 'update', made.id, '--enabled', '--rate-limit', '5']);
  const updated = json<{ disabled: boolean; rateLimitPerSecond: number }>(
    (await hookrelay(['endpoints', 'show', made.id, '--json'])).stdout,
  );
  t.match(updated, { disabled: false, rateLimitPerSecond: 5 });
  const secret = json<{ secret: string }>(
    (await hookrelay(['endpoints', 'show', made.id, '--reveal', '--json'])).stdout,
  ).secret;
  t.match(secret, /^whsec_[A-Za-z0-9+/=]{20,}$/, '--reveal shows the secret');
  for (const args of [['show', made.id], ['update', made.id, '--rate-limit', '6'], ['list']]) {
    const printed = await hookrelay(['endpoints', ...args]);
    t.notMatch(printed.stdout, secret, `endpoints ${args.join(' ')} masks the secret`);
    if (args[0] !== 'list') t.match(printed.stdout, /whsec_•+ \(--reveal shows it\)/);
    const json = await hookrelay(['endpoints', ...args, '--json']);
    t.notMatch(json.stdout, secret, `endpoints ${args.join(' ')} --json leaves the secret out`);
    t.notMatch(json.stdout, '"secret"');
  }
  const listed = await hookrelay(['endpoints', 'list', '--json', '--reveal']);
  t.match(listed.stdout, secret, 'list --reveal --json has it');
  const nothing = await hookrelay(['endpoints', 'update', made.id]);
  t.equal(nothing.code, 1);
  t.match(nothing.stderr, /nothing to change/);
  await hookrelay(['endpoints', 'delete', made.id]);
});

t.test('jobs: list, show, cancel', async (t) => {
  const later = new Date(Date.now() + 3_600_000).toISOString();
  const submitted = await hookrelay([
    'jobs',
    'submit',
    'echo',
    '--run-at',
    later,
    '--metadata',
    '{"team":"x"}',
  ]);
  t.equal(submitted.code, 0, submitted.stderr);
  const id = submitted.stdout.trim();
  t.match(id, /^job_/);
  const queued = await hookrelay(['jobs', 'list', '--status', 'queued']);
  t.match(queued.stdout, id);
  const shown = json<{ status: string; metadata: unknown }>(
    (await hookrelay(['jobs', 'show', id, '--json'])).stdout,
  );
  t.match(shown, { status: 'queued', metadata: { team: 'x' } });
  const cancelled = await hookrelay(['jobs', 'cancel', id]);
  t.equal(cancelled.code, 0);
  t.match(cancelled.stderr, `${id}: cancelled`);
  const again = await hookrelay(['jobs', 'cancel', id]);
  t.equal(again.code, 1);
  t.match(again.stderr, /Conflict \(409\)/);
  const watched = await hookrelay(['jobs', 'watch', id]);
  t.equal(watched.code, 1, 'watching a job that did not succeed exits 1');
  t.match(watched.stderr, `${id} cancelled`);
});

t.test('--url, --key and --json work before the command as after it', async (t) => {
  const elsewhere = cli('http://127.0.0.1:9');
  const before = await elsewhere(['--url', base, '--key', tenant.apiKey, '--json', 'jobs', 'list']);
  t.equal(before.code, 0, before.stderr);
  t.ok(Array.isArray(json<{ data: unknown[] }>(before.stdout).data), 'JSON, as --json asked');
  const after = await elsewhere(['jobs', 'list', '--url', base, '--key', tenant.apiKey, '--json']);
  t.equal(after.code, 0, after.stderr);
  t.same(json(after.stdout), json(before.stdout));
});

t.test('endpoints test prints the message id on stdout, the hint on stderr', async (t) => {
  const receiver = await upstream(t, () => ({ status: 204 }));
  const endpoint = json<{ id: string }>(
    (await hookrelay(['endpoints', 'create', `${receiver.url}/hook`, '--json'])).stdout,
  );
  const tested = await hookrelay(['endpoints', 'test', endpoint.id]);
  t.equal(tested.code, 0, tested.stderr);
  t.match(tested.stdout, /^msg_\w+\n$/, 'only the id, for $(…)');
  t.match(tested.stderr, /hookrelay messages show msg_/);
});

t.test("what others wrote reaches the operator's terminal escaped, never as control sequences", async (t) => {
  const hostile = '\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202etxt.exe';
  const receiver = await upstream(t, () => ({ status: 500, body: `down ${hostile}` }));
  const endpoint = json<{ id: string }>(
    (await hookrelay(['endpoints', 'create', `${receiver.url}/hook`, '--description', hostile, '--json']))
      .stdout,
  );
  const job = (
    await hookrelay(['jobs', 'submit', 'echo', '--input', '{}', '--endpoint', endpoint.id])
  ).stdout.trim();
  const messages = await waitFor('the failed attempt', async () => {
    const listed = json<{ data: Array<{ id: string; lastResponseStatus: number | null }> }>(
      (await hookrelay(['messages', 'list', '--job', job, '--json'])).stdout,
    );
    return listed.data[0]?.lastResponseStatus === 500 ? listed.data : undefined;
  });
  const printed = [
    await hookrelay(['messages', 'show', messages[0]?.id as string]),
    await hookrelay(['endpoints', 'show', endpoint.id]),
    await hookrelay(['endpoints', 'list']),
  ];
  for (const { stdout, stderr } of printed) {
    t.notMatch(stdout + stderr, /(?![\t\n])[\p{Cc}\u202e]/u, 'no control character printed');
  }
  t.match(printed[0]?.stdout, '\\u001b]0;pwned\\u0007', "the receiver's response, escaped");
  const asJson = await hookrelay(['messages', 'show', messages[0]?.id as string, '--json']);
  t.notMatch(asJson.stdout, /(?![\t\n])[\p{Cc}\u202e]/u, 'JSON output escapes them too');
  t.equal(
    json<{ attempts: Array<{ responseBody: string }> }>(asJson.stdout).attempts[0]?.responseBody,
    `down ${hostile}`,
    '… and parses back to the same text',
  );
  t.match(printed[1]?.stdout, '\\u202etxt.exe', 'the description, escaped');
});
