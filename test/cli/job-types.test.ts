// `hookrelay job-types` and `keys create --role worker` against a real service process: a tenant's own types
// registered, replaced, listed beside the global ones, shown and deleted; bad schemas and refusals as errors
// with exit 1.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { cli } from '../helpers/cli.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY } from '../helpers/jobs-app.ts';
import { runHookrelay } from '../helpers/process.ts';

const service = runHookrelay(t, {
  DATABASE_URL: await freshDatabase(t),
  ADMIN_API_KEY: ADMIN_KEY,
  OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
});
const base = await service.ready();
const operator = cli(base, ADMIN_KEY);

const json = <T>(text: string) => JSON.parse(text) as T;
const tenantOf = async (name: string) =>
  json<{ id: string; apiKey: string }>((await operator(['tenants', 'create', name, '--json'])).stdout);
const tenant = await tenantOf('acme');
const hookrelay = cli(base, tenant.apiKey);

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hookrelay-job-types-'));
t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
async function file(name: string, content: string): Promise<string> {
  const at = path.join(dir, name);
  await fs.writeFile(at, content);
  return at;
}

const SCHEMA = {
  type: 'object',
  properties: { month: { type: 'string' }, pages: { type: 'integer' } },
  required: ['month'],
  additionalProperties: false,
};

interface JobType {
  name: string;
  execution: string;
  inputSchema: Record<string, unknown>;
  timeoutSeconds: number;
  heartbeatSeconds: number | null;
  url?: string;
  description?: string;
}

t.test('put, list, show and delete a remote type', async (t) => {
  const schema = await file('report.schema.json', JSON.stringify(SCHEMA));
  const created = await hookrelay([
    'job-types',
    'put',
    'reports.pdf',
    '--execution',
    'remote',
    '--schema',
    schema,
    '--heartbeat',
    '60',
    '--timeout',
    '600',
    '--description',
    'monthly reports',
  ]);
  t.equal(created.code, 0, created.stderr);
  t.match(created.stderr, 'created job type reports.pdf');
  t.match(created.stdout, /reports\.pdf/);

  const replaced = await hookrelay([
    'job-types',
    'put',
    'reports.pdf',
    '--execution',
    'remote',
    '--schema',
    schema,
    '--heartbeat',
    '45',
    '--json',
  ]);
  t.equal(replaced.code, 0, replaced.stderr);
  t.match(replaced.stderr, 'updated job type reports.pdf', 'a second put replaces it');
  t.match(json<JobType>(replaced.stdout), {
    name: 'reports.pdf',
    execution: 'remote',
    inputSchema: SCHEMA,
    heartbeatSeconds: 45,
    timeoutSeconds: 3600,
  });

  const listed = await hookrelay(['job-types', 'list']);
  t.equal(listed.code, 0, listed.stderr);
  t.match(
    listed.stdout,
    /reports\.pdf\s+│ remote\s+│ 3600 s\s+│ 45 s\s+│\s+│ month: string, pages\?: integer/,
  );
  t.match(listed.stdout, /echo\s+│ builtin\s+│ \d+ s\s+│ -/, 'global types too, without a heartbeat');

  const asJson = json<{ data: JobType[] }>((await hookrelay(['job-types', 'list', '--json'])).stdout);
  t.same(
    asJson.data.map((type) => type.execution).filter((e, i, all) => all.indexOf(e) === i),
    ['builtin', 'remote'],
    'built-in types first, then the tenant’s own',
  );
  const alias = await hookrelay(['jobs', 'types', '--json']);
  t.same(json(alias.stdout), asJson, '`jobs types` lists the same');

  const shown = await hookrelay(['job-types', 'show', 'reports.pdf']);
  t.equal(shown.code, 0, shown.stderr);
  t.match(shown.stdout, /execution\s+│ remote/);
  t.match(shown.stdout, /"required": \[/, 'the schema in full, indented');
  const shownJson = json<JobType>((await hookrelay(['job-types', 'show', 'reports.pdf', '--json'])).stdout);
  t.same(shownJson, json(replaced.stdout), 'show --json is the type as put returned it');

  const other = cli(base, (await tenantOf('other')).apiKey);
  const elsewhere = await other(['job-types', 'show', 'reports.pdf']);
  t.equal(elsewhere.code, 1);
  t.match(elsewhere.stderr, /\(404\)/, "another tenant's type is not found");
  t.notMatch((await other(['job-types', 'list'])).stdout, 'reports.pdf');

  const badInput = await hookrelay(['jobs', 'submit', 'reports.pdf', '--input', '{"pages":"x"}']);
  t.equal(badInput.code, 1);
  t.match(badInput.stderr, /\(400\)/);
  t.match(badInput.stderr, /body\.input/, "the input's errors, by path");
  const job = (await hookrelay(['jobs', 'submit', 'reports.pdf', '--input', '{"month":"2025-01"}'])).stdout;
  t.match(job, /^job_\w+\n$/, 'input that matches is accepted');
  const busy = await hookrelay(['job-types', 'delete', 'reports.pdf']);
  t.equal(busy.code, 1);
  t.match(busy.stderr, /\(409\)/, 'not deleted while it has a queued job');
  t.equal((await hookrelay(['jobs', 'cancel', job.trim()])).code, 0);

  const deleted = await hookrelay(['job-types', 'delete', 'reports.pdf', '--json']);
  t.equal(deleted.code, 0, deleted.stderr);
  t.same(json(deleted.stdout), { deleted: 'reports.pdf' });
  const gone = await hookrelay(['job-types', 'show', 'reports.pdf']);
  t.equal(gone.code, 1);
  t.match(gone.stderr, /Not Found \(404\)/);
});

t.test('a push type shows its URL', async (t) => {
  const url = 'http://127.0.0.1:9/hookrelay';
  const put = await hookrelay(['job-types', 'put', 'thumbs', '--execution', 'push', '--push-url', url]);
  t.equal(put.code, 0, put.stderr);
  t.match(put.stderr, 'created job type thumbs');
  const listed = await hookrelay(['job-types', 'list']);
  t.match(listed.stdout, /thumbs\s+│ push\s+│ 3600 s\s+│ 30 s\s+│ http:\/\/127\.0\.0\.1:9\/hookrelay/);
  const noUrl = await hookrelay(['job-types', 'put', 'thumbs', '--execution', 'push']);
  t.equal(noUrl.code, 1);
  t.match(noUrl.stderr, /--execution push needs --push-url/);
  const refused = await hookrelay([
    'job-types',
    'put',
    'metadata',
    '--execution',
    'push',
    '--push-url',
    'http://169.254.169.254/latest',
  ]);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /\(422\)/, 'a URL the outbound guard refuses');
  t.equal((await hookrelay(['job-types', 'delete', 'thumbs'])).code, 0);
});

t.test('bad schemas and refused names: a clear error and exit 1', async (t) => {
  const put = (...args: string[]) =>
    hookrelay(['job-types', 'put', 'bad.type', '--execution', 'remote', ...args]);

  const notJson = await put('--schema', await file('broken.json', '{"type": "object",'));
  t.equal(notJson.code, 1);
  t.match(notJson.stderr, /--schema .*broken\.json is not valid JSON/);
  const notObject = await put('--schema', await file('list.json', '["object"]'));
  t.equal(notObject.code, 1);
  t.match(notObject.stderr, /must hold a JSON object/);
  const missing = await put('--schema', path.join(dir, 'nope.json'));
  t.equal(missing.code, 1);
  t.match(missing.stderr, /cannot read --schema .*nope\.json: ENOENT/);
  const emptyStdin = await put('--schema', '-');
  t.equal(emptyStdin.code, 1);
  t.match(emptyStdin.stderr, /--schema - \(stdin\) is not valid JSON/);
  const notSchema = await put('--schema', await file('wrong.json', '{"type": 12}'));
  t.equal(notSchema.code, 1);
  t.match(notSchema.stderr, /Bad Request \(400\)/, 'a schema the service cannot use');
  t.equal((await hookrelay(['job-types', 'show', 'bad.type'])).code, 1, 'nothing was registered');

  const builtIn = await hookrelay(['job-types', 'put', 'echo', '--execution', 'remote']);
  t.equal(builtIn.code, 1);
  t.match(builtIn.stderr, /Conflict \(409\)/, 'a built-in name is taken');
  const deleteBuiltIn = await hookrelay(['job-types', 'delete', 'echo']);
  t.equal(deleteBuiltIn.code, 1);
  t.match(deleteBuiltIn.stderr, /Conflict \(409\)/);
  const noExecution = await hookrelay(['job-types', 'put', 'x']);
  t.not(noExecution.code, 0);
  t.match(noExecution.stderr, /--execution/);
});

t.test('keys create --role worker: a key that reaches only the worker API', async (t) => {
  const issued = await operator(['keys', 'create', tenant.id, '--role', 'worker', '--json']);
  t.equal(issued.code, 0, issued.stderr);
  const key = json<{ id: string; apiKey: string }>(issued.stdout);
  t.match(key, { id: /^key_/, apiKey: /^hr_/ });
  const refused = await cli(base, key.apiKey)(['jobs', 'list']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /\(403\)/, 'a worker key cannot list jobs');
  const unknownRole = await operator(['keys', 'create', tenant.id, '--role', 'admin']);
  t.not(unknownRole.code, 0);
  t.match(unknownRole.stderr, /Allowed choices are tenant, worker/);
});
