// Nothing loops, for jobs: a result Postgres cannot store fails the attempt with a clear error (instead of leaving
// the job running until its lease runs out, to be run again); an outcome whose record the database refuses still
// ends the attempt, through a second, plain write.
import t, { type Test } from 'tap';
import { jobsApp } from '../helpers/jobs-app.ts';
import { upstream } from '../helpers/upstream.ts';

const app = await jobsApp(t);
const { api } = await app.tenant('unstorable');

/** An http job against an upstream answering `body` as JSON; returns the finished job and the upstream. */
async function httpJob(t: Test, body: string, maxAttempts: number) {
  const server = await upstream(t, () => ({
    status: 200,
    headers: { 'content-type': 'application/json' },
    body,
  }));
  const submitted = await api('POST', '/v1/jobs', { type: 'http', input: { url: server.url }, maxAttempts });
  t.equal(submitted.status, 202);
  const started = Date.now();
  const job = await app.finished(api, submitted.body.id as string);
  return { job, server, seconds: (Date.now() - started) / 1000 };
}

for (const [what, body, reason] of [
  ['a NUL character', '{"text":"a\\u0000b"}', /NUL character/],
  ['an unpaired surrogate', '{"text":"\\ud800"}', /unpaired UTF-16 surrogate/],
  [
    'arrays nested 300,000 deep',
    `${'['.repeat(300_000)}${']'.repeat(300_000)}`,
    /nested too deep|levels deep/,
  ],
] as const) {
  t.test(`an http result holding ${what} fails its attempts with "result is not storable"`, async (t) => {
    const { job, server, seconds } = await httpJob(t, body, 2);
    t.equal(job.status, 'failed');
    t.equal(job.attempts, 2, 'each attempt counted once, by the retry policy');
    t.equal(server.requests.length, 2, 'the upstream was called once per attempt');
    t.match(job.error, /^result is not storable: /);
    t.match(job.error, reason);
    t.ok(seconds < 20, `ended by the retry policy, not by a lease running out (${seconds} s)`);
  });
}

t.test('an http result with raw NUL bytes in text is stored without them', async (t) => {
  const server = await upstream(t, () => ({ status: 200, body: Buffer.from('a\0b') }));
  const submitted = await api('POST', '/v1/jobs', { type: 'http', input: { url: server.url } });
  const job = await app.finished(api, submitted.body.id as string);
  t.equal(job.status, 'succeeded');
  t.match(job.result, { status: 200, body: 'ab' });
});

t.test('when the database refuses to record an outcome, the attempt still ends', async (t) => {
  // A real refusal by the real database: a job cannot succeed with a result holding `refuse`.
  await app.ctx.pool.query(`
    create or replace function refuse_result() returns trigger language plpgsql as $$
    begin
      if new.result ? 'refuse' then raise exception 'result refused for the test'; end if;
      return new;
    end $$;
    create trigger refuse_result before update on jobs for each row execute function refuse_result();`);
  t.teardown(() => app.ctx.pool.query('drop trigger refuse_result on jobs'));
  const started = Date.now();
  const submitted = await api('POST', '/v1/jobs', { type: 'echo', input: { refuse: true }, maxAttempts: 2 });
  const job = await app.finished(api, submitted.body.id as string);
  t.equal(job.status, 'failed');
  t.equal(job.attempts, 2);
  t.match(job.error, /^the attempt's outcome could not be recorded: result refused for the test/);
  t.ok(Date.now() - started < 20_000, 'ended by the retry policy, not by leases running out');
});
