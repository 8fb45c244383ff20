import { Writable } from 'node:stream';
import t from 'tap';
import { createLogger } from '../src/log.ts';

t.test('secrets and payloads are redacted by the logger itself', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const log = createLogger('info', sink);
  log.info({ req: { headers: { authorization: 'Bearer hrk_secret_key' } } }, 'request');
  // A task token is a credential in the path.
  log.info({ req: { method: 'POST', url: '/v1/tasks/tt_secret_token/complete' } }, 'report');
  log.info({ tenant: { apiKey: 'hrk_other', signingSecret: 'whsec_abc', name: 'acme' } }, 'tenant');
  log.info({ job: { input: { card: '4111' }, result: { ssn: '078' }, id: 'job_1' } }, 'job');
  const text = lines.join('');
  for (const secret of ['hrk_secret_key', 'hrk_other', 'whsec_abc', '4111', '078', 'tt_secret_token']) {
    t.notOk(text.includes(secret), `${secret} does not appear`);
  }
  t.ok(text.includes('acme') && text.includes('job_1'), 'other fields are kept');
});
