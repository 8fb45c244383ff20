// Signing secrets at rest: sealed under HOOKRELAY_ENCRYPTION_KEY, resealed when keys rotate, and webhooks
// still verify with the plain secrets the API handed out. Runs the real service process on a real database.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { createSecretBox, keyId, owners, SecretBoxError } from '../../src/crypto/secret-box.ts';
import { client } from '../helpers/client.ts';
import { freshDatabase } from '../helpers/database.ts';
import { ADMIN_KEY } from '../helpers/jobs-app.ts';
import { runHookrelay } from '../helpers/process.ts';
import { upstream } from '../helpers/upstream.ts';

const newKey = () => randomBytes(32);

t.test('the box: round trip, bound to its row, refuses tampering and unknown keys', async (t) => {
  const [k1, k2] = [newKey(), newKey()];
  const box = createSecretBox([k1]);
  const sealed = box.seal('whsec_abc', owners.endpoint('ep_1'));
  t.match(sealed, new RegExp(`^enc:v1:${keyId(k1)}:`));
  t.notOk(sealed.includes('whsec_abc'));
  t.not(box.seal('whsec_abc', owners.endpoint('ep_1')), sealed, 'a fresh IV every time');
  t.equal(box.open(sealed, owners.endpoint('ep_1')), 'whsec_abc');
  t.throws(() => box.open(sealed, owners.endpoint('ep_2')), SecretBoxError, 'copied onto another row');
  const flipped = `${sealed.slice(0, -2)}${sealed.at(-2) === 'A' ? 'B' : 'A'}${sealed.at(-1)}`;
  t.throws(() => box.open(flipped, owners.endpoint('ep_1')), SecretBoxError, 'altered');
  t.throws(() => createSecretBox([k2]).open(sealed, owners.endpoint('ep_1')), /lacks/, 'unknown key');
  t.equal(createSecretBox([k2, k1]).open(sealed, owners.endpoint('ep_1')), 'whsec_abc', 'old keys open');
  t.equal(box.open('whsec_plain', owners.endpoint('ep_1')), 'whsec_plain', 'plain values from before');
  t.equal(createSecretBox([]).seal('whsec_x', owners.tenant('t')), 'whsec_x', 'no key: stored as it is');
});

t.test('the service seals, reseals on rotation, and refuses to start without the key', async (t) => {
  const url = await freshDatabase(t);
  const receiver = await upstream(t, () => ({ status: 200 }));
  const env = { DATABASE_URL: url, ADMIN_API_KEY: ADMIN_KEY, OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8' };
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  t.teardown(() => db.end());
  const stored = async () =>
    (
      await db.query<{ value: string }>(
        `select signing_secret as value from tenants
         union all select secret from endpoints union all select previous_secret from endpoints
         where previous_secret is not null`,
      )
    ).rows.map((row) => row.value);

  async function start(extra: Record<string, string>) {
    const service = runHookrelay(t, { ...env, ...extra });
    const base = await service.ready();
    const stop = () => {
      service.child.kill('SIGTERM');
      return service.exited;
    };
    return { service, base, stop };
  }

  // Before encryption: secrets are stored as they are.
  const plain = await start({});
  const tenant = (
    await client(plain.base, ADMIN_KEY)<{ apiKey: string; signingSecret: string }>(
      'POST',
      '/v1/admin/tenants',
      {
        name: 'sealed',
      },
    )
  ).body;
  const api = client(plain.base, tenant.apiKey);
  const endpoint = (
    await api<{ id: string; secret: string }>('POST', '/v1/endpoints', { url: `${receiver.url}/ep` })
  ).body;
  t.ok((await stored()).includes(endpoint.secret), 'no key: the secret is stored plain');
  await plain.stop();

  // With a key: every secret is sealed at start, and the plain secrets still verify deliveries.
  const k1 = newKey();
  const first = await start({ HOOKRELAY_ENCRYPTION_KEY: k1.toString('base64') });
  const values = await stored();
  t.equal(values.length, 2);
  t.ok(
    values.every((value) => value.startsWith(`enc:v1:${keyId(k1)}:`)),
    'every stored secret is sealed under the key',
  );
  for (const secret of [tenant.signingSecret, endpoint.secret]) {
    t.notOk(
      values.some((value) => value.includes(secret.slice(6))),
      'no plain secret is left',
    );
  }
  const sealedApi = client(first.base, tenant.apiKey);
  t.equal(
    (await sealedApi<{ secret: string }>('GET', `/v1/endpoints/${endpoint.id}`)).body.secret,
    endpoint.secret,
    'the API shows the secret opened',
  );
  const rotated = (await sealedApi<{ secret: string }>('POST', `/v1/endpoints/${endpoint.id}/secret/rotate`))
    .body;
  t.equal((await stored()).length, 3, 'the previous secret is kept for the grace period');
  t.ok(
    (await stored()).every((value) => value.startsWith('enc:v1:')),
    'the new secret is sealed too',
  );
  await sealedApi('POST', '/v1/jobs', { type: 'echo', input: 1, endpointId: endpoint.id });
  await sealedApi('POST', '/v1/jobs', { type: 'echo', input: 2, callbackUrl: `${receiver.url}/callback` });
  await waitFor('the endpoint’s and the callback’s webhooks', () => receiver.requests.length >= 2);
  for (const request of receiver.requests) {
    const headers = request.headers as Record<string, string>;
    const secrets = request.url === '/ep' ? [endpoint.secret, rotated.secret] : [tenant.signingSecret];
    for (const secret of secrets) {
      t.ok(
        new Webhook(secret).verify(request.body, headers),
        `${request.url} verifies with its plain secret`,
      );
    }
  }
  await first.stop();

  // Without the key, or with only a key that does not open them: the start stops with exit 2 and says why.
  const withoutKey: Record<string, string>[] = [
    {},
    { HOOKRELAY_ENCRYPTION_KEY: newKey().toString('base64') },
  ];
  for (const extra of withoutKey) {
    const refused = runHookrelay(t, { ...env, ...extra });
    const exit = await refused.exited;
    t.equal(exit.code, 2, 'exit 2: a configuration to fix');
    t.match(refused.stderr(), /HOOKRELAY_ENCRYPTION_KEY/, 'the message names the variable');
  }

  // Key rotation: the new key first, the old one after it; every secret is resealed under the new one.
  const k2 = newKey();
  const second = await start({
    HOOKRELAY_ENCRYPTION_KEY: `${k2.toString('base64')},${k1.toString('base64')}`,
  });
  t.ok(
    (await stored()).every((value) => value.startsWith(`enc:v1:${keyId(k2)}:`)),
    'resealed under the new key',
  );
  t.match(
    second.service.logs.find((line) => line.msg === 'signing secrets sealed under the current key'),
    { resealed: 3 },
  );
  await second.stop();
  const onlyNew = await start({ HOOKRELAY_ENCRYPTION_KEY: k2.toString('base64') });
  t.equal(
    (await client(onlyNew.base, tenant.apiKey)<{ secret: string }>('GET', `/v1/endpoints/${endpoint.id}`))
      .body.secret,
    rotated.secret,
    'the old key can be dropped once everything is resealed',
  );
});

t.test('a malformed key is a configuration error', async (t) => {
  const refused = runHookrelay(t, {
    HOOKRELAY_ENCRYPTION_KEY: 'c2hvcnQ=',
    DATABASE_URL: await freshDatabase(t),
  });
  t.equal((await refused.exited).code, 2);
  t.match(refused.stderr(), /HOOKRELAY_ENCRYPTION_KEY: each key must be the base64 of 32 random bytes/);
  t.notOk(refused.stderr().includes('c2hvcnQ='), 'the key is not echoed');
});
