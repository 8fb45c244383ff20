// Nothing loops: whatever bytes a receiver answers, the attempt is recorded and the message follows its schedule;
// an attempt whose record the database refuses still counts (a second, minimal write), and one whose dispatcher
// stopped before recording anything is counted by the next claim.
import { gzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { LOST_ATTEMPT_ERROR } from '../../src/delivery/deliver.ts';
import { newId } from '../../src/ids.ts';
import type { Api } from '../helpers/client.ts';
import { type Job, jobsApp } from '../helpers/jobs-app.ts';
import { type Answer, upstream } from '../helpers/upstream.ts';

// Three attempts in all; the lease long enough that a redelivery within a test could only be a loop of ours.
const app = await jobsApp(t, { DELIVERY_RETRY_SCHEDULE: '100ms,100ms', DELIVERY_TIMEOUT: '2s' });
const db = app.ctx.pool;

interface Message {
  id: string;
  status: string;
  attemptCount: number;
  lastError: string | null;
  attempts: Array<{ responseStatus: number | null; responseBody: string | null; error: string | null }>;
}

async function settled(api: Api, id: string, want: string): Promise<Message> {
  for (let i = 0; i < 600; i++) {
    const message = (await api<Message>('GET', `/v1/messages/${id}`)).body;
    if (message.status === want) return message;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`message ${id} never became ${want}`);
}

/** A tenant with one endpoint on a receiver answering `answer`; returns the message of one finished job. */
async function deliverOne(t: Test, answer: (index: number) => Answer) {
  const tenant = await app.tenant('bytes');
  const receiver = await upstream(t, (_request, index) => answer(index));
  const endpoint = (
    await tenant.api<{ id: string }>('POST', '/v1/endpoints', { url: `${receiver.url}/hook` })
  ).body;
  const job = (
    await tenant.api<Job>('POST', '/v1/jobs', { type: 'echo', input: { n: 1 }, endpointId: endpoint.id })
  ).body;
  await app.finished(tenant.api, job.id);
  const { rows } = await db.query<{ id: string }>('select id from messages where job_id = $1', [job.id]);
  return { tenant, receiver, endpoint, messageId: rows[0]?.id as string };
}

/** Long enough for a message recorded nowhere to be claimed again many times over (the claim poll is 500 ms). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 1_500));

t.test('a 200 whose body holds NUL bytes is delivered once, its excerpt stored without them', async (t) => {
  const { tenant, receiver, messageId } = await deliverOne(t, () => ({
    status: 200,
    body: Buffer.from('ok\0\0done\xff', 'latin1'),
  }));
  const message = await settled(tenant.api, messageId, 'delivered');
  await settle();
  t.equal(receiver.requests.length, 1, 'sent exactly once');
  t.equal(message.attemptCount, 1);
  t.equal(message.attempts.length, 1);
  t.equal(message.attempts[0]?.responseBody, 'okdone\ufffd', 'NULs removed, a bad byte replaced');
});

t.test('a gzip body is recorded as a note, not as bytes', async (t) => {
  const { tenant, receiver, messageId } = await deliverOne(t, () => ({
    status: 200,
    headers: { 'content-encoding': 'gzip' },
    body: gzipSync('hello\0world'.repeat(20)),
  }));
  const message = await settled(tenant.api, messageId, 'delivered');
  await settle();
  t.equal(receiver.requests.length, 1);
  t.match(message.attempts[0]?.responseBody, /^\[gzip-encoded body of \d+ bytes, not kept\]$/);
});

t.test('a 500 with NUL bytes follows the retry schedule and is dead-lettered', async (t) => {
  const { tenant, receiver, messageId } = await deliverOne(t, () => ({
    status: 500,
    body: Buffer.from('\0boom\0'),
  }));
  const message = await settled(tenant.api, messageId, 'dead');
  await settle();
  t.equal(receiver.requests.length, 3, 'three attempts, as the schedule says, and no more');
  t.same(
    message.attempts.map((a) => [a.responseStatus, a.responseBody]),
    [
      [500, 'boom'],
      [500, 'boom'],
      [500, 'boom'],
    ],
  );
  const letters = await db.query('select reason from dead_letters where message_id = $1', [messageId]);
  t.same(letters.rows, [{ reason: 'exhausted' }]);
});

t.test('when the database refuses the attempt record, the attempt still counts', async (t) => {
  // A real refusal, from the real database: any attempt whose response body says so cannot be inserted.
  await db.query(`
    create or replace function refuse_attempt() returns trigger language plpgsql as $$
    begin
      if new.response_body like '%refuse-to-record%' then raise exception 'attempt refused for the test'; end if;
      return new;
    end $$;
    create trigger refuse_attempt before insert on attempts for each row execute function refuse_attempt();`);
  t.teardown(() => db.query('drop trigger refuse_attempt on attempts'));

  t.test('a 2xx: delivered once, without its attempt row', async (t) => {
    const { tenant, receiver, messageId } = await deliverOne(t, () => ({
      status: 200,
      body: 'refuse-to-record',
    }));
    const message = await settled(tenant.api, messageId, 'delivered');
    await settle();
    t.equal(receiver.requests.length, 1, 'not sent again');
    t.equal(message.attemptCount, 1);
    t.equal(message.attempts.length, 0, 'the full record was refused');
    t.match(message.lastError, /could not be recorded: attempt refused for the test/);
  });

  t.test('a 5xx: every attempt counted, then dead-lettered on schedule', async (t) => {
    const { tenant, receiver, messageId } = await deliverOne(t, () => ({
      status: 503,
      body: 'refuse-to-record',
    }));
    const message = await settled(tenant.api, messageId, 'dead');
    await settle();
    t.equal(receiver.requests.length, 3, 'three attempts, as the schedule says');
    t.equal(message.attemptCount, 3);
    const letters = await db.query('select reason, attempts from dead_letters where message_id = $1', [
      messageId,
    ]);
    t.same(letters.rows, [{ reason: 'exhausted', attempts: 3 }]);
  });
});

/** A message left as a dispatcher that died mid-attempt leaves it: leased, with its lease run out. */
async function abandoned(attempts: number) {
  const tenant = await app.tenant('abandoned');
  const receiver = await upstream(t, () => ({ status: 200 }));
  const endpoint = (
    await tenant.api<{ id: string }>('POST', '/v1/endpoints', { url: `${receiver.url}/hook` })
  ).body;
  const id = newId('msg');
  await db.query(
    `insert into messages (id, tenant_id, endpoint_id, url, event_type, payload, receiver, leased, attempts,
                           next_attempt_at)
     values ($1, $2, $3, $4, 'endpoint.test', '{}', $3, true, $5, now())`,
    [id, tenant.id, endpoint.id, `${receiver.url}/hook`, attempts],
  );
  return { tenant, receiver, id };
}

t.test('an attempt whose dispatcher stopped before recording it is counted by the next claim', async (t) => {
  const { tenant, receiver, id } = await abandoned(0);
  const message = await settled(tenant.api, id, 'delivered');
  t.equal(receiver.requests.length, 1);
  t.equal(message.attemptCount, 2, 'the lost attempt, then the one that delivered');
  t.same(
    message.attempts.map((a) => [a.responseStatus, a.error]),
    [
      [null, LOST_ATTEMPT_ERROR],
      [200, null],
    ],
  );
});

t.test('lost attempts use up the schedule: the message is dead-lettered, not sent again', async (t) => {
  const { tenant, receiver, id } = await abandoned(2);
  const message = await settled(tenant.api, id, 'dead');
  await settle();
  t.equal(receiver.requests.length, 0, 'no attempt left to make');
  t.equal(message.attemptCount, 3);
  t.equal(message.lastError, LOST_ATTEMPT_ERROR);
  const letters = await db.query('select reason from dead_letters where message_id = $1', [id]);
  t.same(letters.rows, [{ reason: 'exhausted' }]);
});
