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

  const revoked = await admin('DELETE', `/v1/admin/tenants/${tenant.id}/keys/${doomed.id}`);
  t.equal(revoked.status, 204);
  t.ok(await within(stream.ended, 5_000), "the revoked key's event stream ended");
  t.ok(await within(longPoll, 5_000), "the revoked key's long poll answered");
  // The other key's stream is still open: it hears the job's end.
  t.equal((await tenant.api('POST', `/v1/jobs/${job.id}/cancel`)).status, 200);
  t.match(await survivor.ended, /"status":"cancelled"/, "the other key's stream carried the job to its end");
  t.equal(
    (await client(app.base, doomed.apiKey)('GET', `/v1/jobs/${job.id}`)).status,
    401,
    'and the key opens nothing new',
  );
});
