// Bulk replay from the CLI: a few thousand dead letters for one endpoint, replayed with one command that
// counts first, asks for confirmation (refused without a terminal unless --yes), and shows a progress bar.
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { cli } from '../helpers/cli.ts';
import { client } from '../helpers/client.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY } from '../helpers/jobs-app.ts';
import { runHookrelay } from '../helpers/process.ts';
import { upstream } from '../helpers/upstream.ts';

const LETTERS = 2_000;

t.test('replaying a few thousand dead letters for one endpoint', async (t) => {
  let gone = true;
  const receiver = await upstream(t, () => ({ status: gone ? 410 : 200 }));
  const service = runHookrelay(t, {
    DATABASE_URL: await freshDatabase(t),
    ADMIN_API_KEY: ADMIN_KEY,
    OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
    // Every message fails at once with 410; the circuit would otherwise hold the replays back.
    CIRCUIT_BREAKER_THRESHOLD: '10000',
    TENANT_RATE_LIMIT: '100000',
  });
  const base = await service.ready();
  const tenant = (await client(base, ADMIN_KEY)('POST', '/v1/admin/tenants', { name: 'replay' })).body as {
    apiKey: string;
  };
  const api = client(base, tenant.apiKey);
  const endpoint = (await api<{ id: string }>('POST', '/v1/endpoints', { url: `${receiver.url}/hook` })).body;
  const other = (await api<{ id: string }>('POST', '/v1/endpoints', { url: `${receiver.url}/other` })).body;

  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < LETTERS + 10) {
        const i = next++;
        // Ten go to another endpoint, which the replay must leave alone.
        const endpointId = i < LETTERS ? endpoint.id : other.id;
        const response = await api('POST', '/v1/jobs', { type: 'echo', input: { i }, endpointId });
        if (response.status !== 202) throw new Error(`job ${i}: ${response.status}`);
      }
    }),
  );
  const hookrelay = cli(base, tenant.apiKey);
  const count = async (endpointId: string) =>
    (await api<{ matching: number }>('POST', '/v1/dead-letters/replay', { endpointId, dryRun: true })).body
      .matching;
  // Past the deadline the assertion below still reports how many were dead-lettered.
  await waitFor(
    `all ${LETTERS} messages to be dead-lettered`,
    async () => (await count(endpoint.id)) >= LETTERS,
    90_000,
  ).catch(() => undefined);
  t.equal(await count(endpoint.id), LETTERS, 'every message was dead-lettered (410 Gone)');

  const dry = await hookrelay(['dead-letters', 'replay', '--endpoint', endpoint.id, '--dry-run']);
  t.equal(dry.code, 0);
  t.match(dry.stderr, `would replay ${LETTERS} dead letters`);

  const unconfirmed = await hookrelay(['dead-letters', 'replay', '--endpoint', endpoint.id]);
  t.equal(unconfirmed.code, 1, 'without a terminal to ask on, a bulk replay needs --yes');
  t.match(unconfirmed.stderr, `Replay ${LETTERS} dead letters? Pass --yes`);
  t.equal(await count(endpoint.id), LETTERS, 'nothing was replayed without confirmation');

  gone = false;
  const before = receiver.requests.length;
  const replay = await hookrelay(['dead-letters', 'replay', '--endpoint', endpoint.id, '--yes']);
  t.equal(replay.code, 0, replay.stderr);
  const bar = replay.stderr.split('\n').filter((line) => line.startsWith('replaying '));
  t.ok(bar.length >= 2, `the progress bar was drawn (${bar.length} lines)`);
  t.match(
    bar.at(-1),
    new RegExp(`${LETTERS}/${LETTERS} \\| \\d+/s \\| ETA`),
    'it ends full, with rate and ETA',
  );
  t.match(replay.stderr, new RegExp(`replayed ${LETTERS} in [\\d.]+ s`));
  t.equal(await count(endpoint.id), 0, 'none is left to replay');
  t.equal(await count(other.id), 10, "the other endpoint's dead letters were left alone");

  // Every replayed message arrives again under its own webhook-id.
  const firstIds = new Set(receiver.requests.slice(0, before).map((r) => String(r.headers['webhook-id'])));
  // As above: the assertions below say how many arrived.
  await waitFor(
    `the ${LETTERS} replayed messages to arrive`,
    () => receiver.requests.length - before >= LETTERS,
    90_000,
  ).catch(() => undefined);
  const replayed = receiver.requests.slice(before);
  t.equal(replayed.length, LETTERS, 'one delivery per replayed dead letter');
  t.ok(
    replayed.every((r) => r.url === '/hook' && firstIds.has(String(r.headers['webhook-id']))),
    'each is a message sent before, with the same webhook-id',
  );
  t.equal(new Set(replayed.map((r) => r.headers['webhook-id'])).size, LETTERS, 'no message twice');

  const listed = await hookrelay(['dead-letters', 'list', '--endpoint', endpoint.id, '--not-replayed']);
  t.match(listed.stdout, 'nothing to show');
  const again = await hookrelay(['dead-letters', 'replay', '--endpoint', endpoint.id, '--yes']);
  t.match(again.stderr, 'nothing to replay');

  // The other endpoint's ten: by reason, one shown, one discarded, two replayed by id, the operator's view.
  const others = JSON.parse(
    (await hookrelay(['dead-letters', 'list', '--endpoint', other.id, '--reason', 'gone', '--json'])).stdout,
  ) as { data: Array<{ id: string; messageId: string; reason: string }> };
  t.equal(others.data.length, 10);
  t.equal(
    (
      await hookrelay(['dead-letters', 'list', '--endpoint', other.id, '--reason', 'exhausted'])
    ).stdout.trim(),
    'nothing to show',
    'the reason filter narrows',
  );
  const [first, second, third] = others.data as Array<{ id: string; messageId: string }>;
  const shown = await hookrelay(['dead-letters', 'show', first?.id as string]);
  t.match(shown.stdout, first?.messageId as string);
  t.equal((await hookrelay(['dead-letters', 'discard', first?.id as string])).code, 0);
  t.equal(
    (await hookrelay(['dead-letters', 'show', first?.id as string])).code,
    1,
    'a discarded one is gone',
  );
  const byId = await hookrelay(['dead-letters', 'replay', second?.id as string, third?.id as string]);
  t.equal(byId.code, 0, byId.stderr);
  t.match(byId.stderr, /replayed 2 in/);
  const sentTwice = (messageId?: string) =>
    receiver.requests.filter((r) => r.headers['webhook-id'] === messageId).length === 2;
  await waitFor(
    'the two dead letters replayed by id to go out again',
    () => sentTwice(second?.messageId) && sentTwice(third?.messageId),
    30_000,
  );
  t.ok(sentTwice(second?.messageId) && sentTwice(third?.messageId), 'both went out again, under their ids');
  t.equal(await count(other.id), 7, 'seven left: one discarded, two replayed');
  const repeated = await hookrelay(['dead-letters', 'replay', second?.id as string, third?.id as string]);
  t.equal(repeated.code, 0, 'repeating a replay by id is safe');
  t.match(repeated.stderr, /skipped dl_\w+: The dead letter was already replayed at \d{4}-/);
  t.match(repeated.stderr, /replayed 0 in/);
  const mixed = await hookrelay(['dead-letters', 'replay', second?.id as string, '--endpoint', other.id]);
  t.equal(mixed.code, 1, 'ids and filters together are refused');
  const operator = await cli(
    base,
    ADMIN_KEY,
  )(['dead-letters', 'list', '--all-tenants', '--endpoint', other.id]);
  t.equal(operator.code, 0, operator.stderr);
  t.match(operator.stdout, /tenant/);
  t.match(operator.stdout, /ten_\w+/, "the operator's view names the tenant");
});
