// Revoking a key ends what it holds open: its event streams and long polls end within moments, through the
// same notification that makes every process forget the key, while another key's stream goes on.
import t from 'tap';
import { client } from '../helpers/client.ts';
import { ADMIN_KEY, jobsApp } from '../helpers/jobs-app.ts';

const app = await jobsApp(t);
const admin = client(app.base, ADMIN_KEY);

/** Opens the job's event stream with `key`; resolves when the server ends it. */
async function openStream(key: string, jobId: string) {
  const response = await fetch(`${app.base}/v1/jobs/${jobId}/events`, {
    headers: { authorization: `Bearer ${key}` },
  });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  await reader.read(); // the job's state now: the stream is open
  let text = '';
  const ended = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text;
      text += new TextDecoder().decode(value);
    }
  })();
  return { status: response.status, ended };
}

/** Whether the promise settles within `ms`. */
const within = (promise: Promise<unknown>, ms: number) =>
  Promise.race([
    promise.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref()),
  ]);

t.test("a revoked key's event streams and long polls end; another key's go on", async (t) => {
  const tenant = await app.tenant('revoked');
  const doomed = (await admin<{ id: string; apiKey: string }>('POST', `/v1/admin/tenants/${tenant.id}/keys`))
    .body;
  // Queued for an hour: nothing about the job ends these responses.
  const runAt = new Date(Date.now() + 3_600_000).toISOString();
  const job = (await tenant.api<{ id: string }>('POST', '/v1/jobs', { type: 'echo', input: 1, runAt })).body;

  const stream = await openStream(doomed.apiKey, job.id);
  t.equal(stream.status, 200);
  const survivor = await openStream(tenant.key, job.id);
  const longPoll = client(app.base, doomed.apiKey)('GET', `/v1/jobs/${job.id}?waitSeconds=60`);
  // The poll has reached its wait: a read of the job by this key, after the revocation, must not be answered.
  await new Promise((resolve) => setTimeout(resolve, 200));

  const revoked = await admin('DELETE', `/v1/admin/tenants/${tenant.id}/keys/${doomed.id}`);
  t.equal(revoked.status, 204);
  t.ok(await within(stream.ended, 5_000), "the revoked key's event stream ended");
  t.ok(await within(longPoll, 5_000), "the revoked key's long poll answered");
  t.equal((await longPoll).status, 401, '… with 401, not the job read after the revocation');
  // The other key's stream is still open: it hears the job's end.
  t.equal((await tenant.api('POST', `/v1/jobs/${job.id}/cancel`)).status, 200);
  t.match(await survivor.ended, /"status":"cancelled"/, "the other key's stream carried the job to its end");
  t.equal(
    (await client(app.base, doomed.apiKey)('GET', `/v1/jobs/${job.id}`)).status,
    401,
    'and the key opens nothing new',
  );
});

t.test(
  'a revocation missed while the notification connection was down ends the stream after it is back',
  async (t) => {
    const tenant = await app.tenant('missed');
    const doomed = (
      await admin<{ id: string; apiKey: string }>('POST', `/v1/admin/tenants/${tenant.id}/keys`)
    ).body;
    const runAt = new Date(Date.now() + 3_600_000).toISOString();
    const job = (await tenant.api<{ id: string }>('POST', '/v1/jobs', { type: 'echo', input: 1, runAt }))
      .body;
    const stream = await openStream(doomed.apiKey, job.id);

    // Revoked without a notification (as if it was sent while this process was not listening), then the
    // listening connection is cut: the process reconnects and asks about the keys holding responses open.
    await app.ctx.pool.query('update api_keys set revoked_at = now() where id = $1', [doomed.id]);
    await app.ctx.pool.query(
      `select pg_terminate_backend(pid) from pg_stat_activity
      where application_name = 'hookrelay-listen' and datname = current_database()`,
    );
    t.ok(await within(stream.ended, 10_000), 'the stream ended once the process was listening again');
  },
);
