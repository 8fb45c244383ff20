// Our signatures verify with the independent `standardwebhooks` implementation, never only with our own code.
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import t from 'tap';
import { signatureHeader } from '../../src/delivery/sign.ts';
import { generateSigningSecret } from '../../src/tenants/keys.ts';

t.test('a fixed vector', async (t) => {
  // From the Standard Webhooks reference implementations' test suite.
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const header = signatureHeader(
    [secret],
    'msg_p5jXN8AQM9LWM0D4loKWxJek',
    1614265330,
    '{"test": 2432232314}',
  );
  t.equal(header, 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
});

t.test('random secrets and bodies verify with standardwebhooks', async (t) => {
  for (let i = 0; i < 50; i++) {
    const secret = generateSigningSecret();
    const body = JSON.stringify({ n: i, text: randomBytes(i * 7).toString('base64'), unicode: 'é✓🚀' });
    const id = `msg_${randomBytes(8).toString('hex')}`;
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader([secret], id, timestamp, body),
    };
    t.same(new Webhook(secret).verify(body, headers), JSON.parse(body));
  }
});

t.test('during rotation both secrets verify the same header', async (t) => {
  const [oldSecret, newSecret] = [generateSigningSecret(), generateSigningSecret()];
  const body = '{"type":"job.succeeded"}';
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    'webhook-id': 'msg_1',
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader([newSecret, oldSecret], 'msg_1', timestamp, body),
  };
  t.ok(new Webhook(newSecret).verify(body, headers));
  t.ok(new Webhook(oldSecret).verify(body, headers));
  t.throws(() => new Webhook(generateSigningSecret()).verify(body, headers), 'a third secret does not');
});
