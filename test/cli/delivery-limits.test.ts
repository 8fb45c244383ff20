// The CLI's view of what holds an endpoint's deliveries back, against a real service process: its concurrency
// settings (endpoints create|update --max-concurrency, --[no-]adaptive-concurrency), the limit and attempts in
// flight and a Retry-After pause (endpoints show), and ordering keys (jobs submit|list --ordering-key, messages
// list --ordering-key with "waiting", endpoints keys and show listing the blocked ones).
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { cli } from '../helpers/cli.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY } from '../helpers/jobs-app.ts';
import { runHookrelay } from '../helpers/process.ts';
import { upstream } from '../helpers/upstream.ts';

const service = runHookrelay(t, {
  DATABASE_URL: await freshDatabase(t),
  ADMIN_API_KEY: ADMIN_KEY,
  OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
  // A failed head stays blocked for the test's length; a failing receiver opens no circuit.
  DELIVERY_RETRY_SCHEDULE: '10m',
  CIRCUIT_BREAKER_THRESHOLD: '10000',
});
const base = await service.ready();
const operator = cli(base, ADMIN_KEY);
const json = <T>(text: string) => JSON.parse(text) as T;
const tenant = json<{ apiKey: string }>((await operator(['tenants', 'create', 'limits', '--json'])).stdout);
const hookrelay = cli(base, tenant.apiKey);

interface Endpoint {
  id: string;
  maxConcurrency: number;
  adaptiveConcurrency: boolean;
  concurrency: { limit: number; inFlight: number };
  pausedUntil: string | null;
}

/** The record's line for `name` (cli-table3 without a terminal: `│ name │ value │`), its cells trimmed. */
const line = (stdout: string, name: string) =>
  stdout
    .split('\n')
    .find((row) => row.includes(`│ ${name} `))
    ?.split('│')
    .map((cell) => cell.trim())
    .filter(Boolean)
    .join(' | ');

/** A table's body rows (without a terminal: `│ a │ b │`), as arrays of trimmed cells. */
const rows = (stdout: string) =>
  stdout
    .split('\n')
    .filter((row) => row.startsWith('│'))
    .map((row) =>
      row
        .split('│')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );

t.test('endpoints create and update take the concurrency settings; show prints them', async (t) => {
  const made = await hookrelay([
    'endpoints',
    'create',
    'http://127.0.0.1:9/hook',
    '--max-concurrency',
    '3',
    '--no-adaptive-concurrency',
  ]);
  t.equal(made.code, 0, made.stderr);
  t.equal(
    line(made.stdout, 'concurrency'),
    'concurrency | 0 in flight, limit 3 of max 3 (fixed)',
    'create prints the concurrency as one line',
  );
  t.equal(line(made.stdout, 'paused until'), 'paused until | not paused');
  t.notMatch(made.stdout, /maxConcurrency|adaptiveConcurrency/, 'not the raw fields');
  const id = /(ep_\w+)/.exec(made.stdout)?.[1] as string;
  t.ok(id, 'the record names the endpoint');

  const asJson = json<Endpoint>((await hookrelay(['endpoints', 'show', id, '--json'])).stdout);
  t.match(asJson, { maxConcurrency: 3, adaptiveConcurrency: false, pausedUntil: null });
  t.same(asJson.concurrency, { limit: 3, inFlight: 0 });

  const updated = await hookrelay([
    'endpoints',
    'update',
    id,
    '--max-concurrency',
    '7',
    '--adaptive-concurrency',
  ]);
  t.equal(updated.code, 0, updated.stderr);
  t.match(
    line(updated.stdout, 'concurrency'),
    /^concurrency \| 0 in flight, limit \d+ of max 7 \(adaptive\)$/,
  );
  const after = json<Endpoint>((await hookrelay(['endpoints', 'show', id, '--json'])).stdout);
  t.match(after, { maxConcurrency: 7, adaptiveConcurrency: true });

  const untouched = await hookrelay(['endpoints', 'update', id, '--description', 'only this', '--json']);
  t.match(json<Endpoint>(untouched.stdout), { maxConcurrency: 7, adaptiveConcurrency: true }, 'kept');
  const fixedAgain = await hookrelay(['endpoints', 'update', id, '--no-adaptive-concurrency', '--json']);
  t.match(json<Endpoint>(fixedAgain.stdout), { maxConcurrency: 7, adaptiveConcurrency: false });

  const shown = await hookrelay(['endpoints', 'show', id]);
  t.equal(line(shown.stdout, 'concurrency'), 'concurrency | 0 in flight, limit 7 of max 7 (fixed)');
  t.match(shown.stdout, 'no blocked ordering keys', 'show lists the blocked keys: none here');

  const notANumber = await hookrelay(['endpoints', 'update', id, '--max-concurrency', 'lots']);
  t.equal(notANumber.code, 1);
  t.match(notANumber.stderr, /--max-concurrency must be a whole number/);
  const tooMany = await hookrelay(['endpoints', 'update', id, '--max-concurrency', '5000']);
  t.equal(tooMany.code, 1, 'the service refuses more than 1000');
  t.match(tooMany.stderr, /\(400\)/);
  t.match(tooMany.stderr, /maxConcurrency/);
});

t.test('endpoints show: attempts in flight, and a Retry-After pause', async (t) => {
  let pushBack = false;
  const receiver = await upstream(t, () =>
    pushBack ? { status: 429, headers: { 'retry-after': '600' } } : { status: 200, delayMs: 8_000 },
  );
  const endpoint = json<Endpoint>(
    (
      await hookrelay([
        'endpoints',
        'create',
        `${receiver.url}/hook`,
        '--max-concurrency',
        '2',
        '--no-adaptive-concurrency',
        '--json',
      ])
    ).stdout,
  );
  // Three slow deliveries: two in flight (the limit) for a while, the third held back.
  for (let i = 0; i < 3; i++) await hookrelay(['endpoints', 'test', endpoint.id]);
  const busy = await waitFor(
    'two attempts in flight',
    async () => {
      const shown = await hookrelay(['endpoints', 'show', endpoint.id]);
      return line(shown.stdout, 'concurrency')?.startsWith('concurrency | 2 in flight') ? shown : undefined;
    },
    20_000,
  );
  t.equal(
    line(busy.stdout, 'concurrency'),
    'concurrency | 2 in flight, limit 2 of max 2 (fixed)',
    'the limit reached',
  );
  t.equal(line(busy.stdout, 'paused until'), 'paused until | not paused');

  pushBack = true;
  await hookrelay(['endpoints', 'update', endpoint.id, '--max-concurrency', '5']);
  await hookrelay(['endpoints', 'test', endpoint.id]);
  const paused = await waitFor(
    'the Retry-After pause',
    async () => {
      const shown = await hookrelay(['endpoints', 'show', endpoint.id]);
      return line(shown.stdout, 'paused until') !== 'paused until | not paused' ? shown : undefined;
    },
    20_000,
  );
  const until = line(paused.stdout, 'paused until')?.replace('paused until | ', '') as string;
  t.match(until, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/, `paused until a time: ${until}`);
  const ahead = Date.parse(until) - Date.now();
  t.ok(ahead > 500_000 && ahead <= 600_000, `about the Retry-After's 600 s ahead (${ahead} ms)`);
});

t.test('ordering keys: submit and list by key, a key waiting, an endpoint blocked keys', async (t) => {
  const receiver = await upstream(t, (request) => {
    const key = (JSON.parse(request.body) as { data: { metadata?: { key?: string } } }).data.metadata?.key;
    return { status: key === 'stuck' ? 503 : 204 };
  });
  const endpoint = json<{ id: string }>(
    (
      await hookrelay([
        'endpoints',
        'create',
        `${receiver.url}/hook`,
        '--event-types',
        'job.succeeded',
        '--json',
      ])
    ).stdout,
  );
  const submit = async (key: string, n: number) => {
    const submitted = await hookrelay([
      'jobs',
      'submit',
      'echo',
      '--input',
      JSON.stringify({ n }),
      '--endpoint',
      endpoint.id,
      '--ordering-key',
      key,
      '--metadata',
      JSON.stringify({ key }),
    ]);
    t.equal(submitted.code, 0, submitted.stderr);
    return submitted.stdout.trim();
  };
  const stuck = [await submit('stuck', 0), await submit('stuck', 1), await submit('stuck', 2)];
  const fine = [await submit('fine', 0), await submit('fine', 1)];
  t.match(
    json<{ orderingKey: string }>((await hookrelay(['jobs', 'show', stuck[0] as string, '--json'])).stdout),
    { orderingKey: 'stuck' },
    'the job keeps its key',
  );

  const blocked = await waitFor(
    'the stuck key to be blocked',
    async () => {
      const keys = json<{ data: Array<{ orderingKey: string; pending: number }> }>(
        (await hookrelay(['endpoints', 'keys', endpoint.id, '--json'])).stdout,
      ).data;
      return keys[0]?.pending === 3 ? keys : undefined;
    },
    20_000,
  );
  t.equal(blocked.length, 1, 'one key blocked');
  t.match(blocked[0], {
    orderingKey: 'stuck',
    pending: 3,
    head: { attemptCount: 1, lastResponseStatus: 503, nextAttemptAt: /^\d{4}-/ },
  });
  await waitFor('the fine key delivered', () => receiver.requests.length >= 3, 20_000);

  const jobsOfKey = await hookrelay(['jobs', 'list', '--ordering-key', 'fine']);
  t.equal(jobsOfKey.code, 0, jobsOfKey.stderr);
  const [jobHeader, ...jobRows] = rows(jobsOfKey.stdout);
  t.match(jobHeader, ['id', 'type', 'status', 'progress', 'attempts', 'key']);
  t.same(
    jobRows.map((row) => row[0]).sort(),
    [...fine].sort(),
    "jobs list --ordering-key lists the key's jobs",
  );
  t.ok(
    jobRows.every((row) => row[5] === 'fine'),
    'with their key',
  );

  const queue = await hookrelay(['messages', 'list', '--ordering-key', 'stuck', '--status', 'pending']);
  t.equal(queue.code, 0, queue.stderr);
  const header = rows(queue.stdout)[0] as string[];
  t.same(header.slice(0, 4), ['id', 'event', 'status', 'key']);
  const messageRows = rows(queue.stdout).slice(1);
  t.equal(messageRows.length, 3, "the key's queue: three messages");
  t.ok(
    messageRows.every((row) => row[3] === 'stuck'),
    'each shows its key',
  );
  t.same(
    messageRows.map((row) => row[2]).sort(),
    ['pending', 'pending (waiting)', 'pending (waiting)'],
    'two wait behind the head',
  );
  const head = messageRows.find((row) => row[2] === 'pending')?.[0] as string;
  t.equal(head, (blocked[0] as unknown as { head: { messageId: string } }).head.messageId, 'the head');

  const keys = await hookrelay(['endpoints', 'keys', endpoint.id]);
  t.equal(keys.code, 0, keys.stderr);
  const keyRows = rows(keys.stdout);
  t.same(keyRows[0], ['blocked key', 'pending', 'head message', 'attempts', 'last', 'next attempt']);
  t.equal(keyRows.length, 2, 'one blocked key');
  const [key, pending, message, attempts, last, next] = keyRows[1] as string[];
  t.same([key, pending, message, attempts], ['stuck', '3', head, '1']);
  t.equal(last, '503', "the head's last answer");
  t.match(next, /^\d{4}-\d\d-\d\dT/, 'and when it is tried again');

  const shown = await hookrelay(['endpoints', 'show', endpoint.id]);
  t.equal(shown.code, 0, shown.stderr);
  t.match(shown.stdout, /│ blocked key\s+│ pending/, 'show lists the blocked keys');
  t.match(shown.stdout, new RegExp(`│ stuck\\s+│ 3\\s+│ ${head}`));
  const shownJson = json<{ blockedKeys: Array<{ orderingKey: string }> }>(
    (await hookrelay(['endpoints', 'show', endpoint.id, '--json'])).stdout,
  );
  t.match(shownJson.blockedKeys, [{ orderingKey: 'stuck', pending: 3 }]);

  const badLimit = await hookrelay(['endpoints', 'keys', endpoint.id, '--limit', '500']);
  t.equal(badLimit.code, 1);
  t.match(badLimit.stderr, /\(400\)/);
});
