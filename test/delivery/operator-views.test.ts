// What the CLI and console build on: dead-letter filters by reason and replay state, bulk replay in steps
// (limit) and as a count (dryRun), and an endpoint's attempt statistics.
import t from 'tap';
import { waitFor } from '../../harness/wait.ts';
import { jobsApp } from '../helpers/jobs-app.ts';
import { upstream } from '../helpers/upstream.ts';

const app = await jobsApp(t, { DELIVERY_RETRY_SCHEDULE: '100ms', CIRCUIT_BREAKER_THRESHOLD: '1000' });
const tenant = await app.tenant('operator views');
let answer = 410;
const receiver = await upstream(t, () => ({ status: answer }));
const endpoint = (await tenant.api<{ id: string }>('POST', '/v1/endpoints', { url: `${receiver.url}/a` }))
  .body;
const quiet = (await tenant.api<{ id: string }>('POST', '/v1/endpoints', { url: `${receiver.url}/b` })).body;

interface Page {
  data: Array<{ id: string; reason: string; replayedAt: string | null }>;
}
const list = async (query: string) => (await tenant.api<Page>('GET', `/v1/dead-letters?${query}`)).body.data;
const dryRun = async (body: Record<string, unknown>) =>
  tenant.api<{ matching: number }>('POST', '/v1/dead-letters/replay', { ...body, dryRun: true });

// Six die at once (410 Gone), then two run out of attempts (500 twice).
for (let i = 0; i < 6; i++)
  await tenant.api('POST', '/v1/jobs', { type: 'echo', input: i, endpointId: endpoint.id });
await waitFor('6 dead letters (410 Gone)', async () => (await list(`endpointId=${endpoint.id}`)).length >= 6);
answer = 500;
for (let i = 0; i < 2; i++)
  await tenant.api('POST', '/v1/jobs', { type: 'echo', input: i, endpointId: endpoint.id });
await waitFor(
  '8 dead letters (2 more, out of attempts)',
  async () => (await list(`endpointId=${endpoint.id}`)).length >= 8,
);

t.test('dead letters filter by reason and by replay state', async (t) => {
  t.equal((await list('reason=gone')).length, 6);
  t.equal((await list('reason=exhausted')).length, 2);
  t.ok((await list('reason=exhausted')).every((d) => d.reason === 'exhausted'));
  t.equal((await list('reason=endpoint_deleted')).length, 0);
  const bad = await tenant.api('GET', '/v1/dead-letters?reason=lost');
  t.equal(bad.status, 400, 'an unknown reason is a 400');
  const badFlag = await tenant.api('GET', '/v1/dead-letters?replayed=maybe');
  t.equal(badFlag.status, 400);
  t.equal((await list('replayed=false')).length, 8);
  t.equal((await list('replayed=true')).length, 0);
});

t.test('bulk replay: dryRun counts, limit replays in steps, oldest first', async (t) => {
  const count = await dryRun({ endpointId: endpoint.id });
  t.equal(count.status, 200);
  t.same(count.body, { matching: 8 });
  t.same((await dryRun({ endpointId: endpoint.id, reason: 'exhausted' })).body, { matching: 2 });
  t.same((await dryRun({ endpointId: quiet.id })).body, { matching: 0 });
  t.equal((await list('replayed=false')).length, 8, 'a dry run replays nothing');

  answer = 200;
  const oldest = (await list(`endpointId=${endpoint.id}`)).slice(-3).map((d) => d.id);
  const step = await tenant.api('POST', '/v1/dead-letters/replay', { endpointId: endpoint.id, limit: 3 });
  t.equal(step.status, 202);
  t.same(step.body, { replayed: 3 });
  const replayed = (await list('replayed=true')).map((d) => d.id);
  t.same(replayed.sort(), oldest.sort(), 'the oldest three went first');
  t.same((await dryRun({ endpointId: endpoint.id })).body, { matching: 5 });
  const rest = await tenant.api('POST', '/v1/dead-letters/replay', { endpointId: endpoint.id, limit: 100 });
  t.same(rest.body, { replayed: 5 });
  t.same((await dryRun({ endpointId: endpoint.id })).body, { matching: 0 });
  for (const bad of [{ limit: 0 }, { limit: 10_001 }, { limit: 1.5 }, { dryRun: 'yes' }]) {
    const refused = await tenant.api('POST', '/v1/dead-letters/replay', bad);
    t.equal(refused.status, 400, `refused: ${JSON.stringify(bad)}`);
  }
});

t.test("an endpoint's statistics: attempts by outcome, in buckets", async (t) => {
  // 6 gone + 2 × 2 exhausted attempts failed; the 8 replays succeed.
  await waitFor(
    '18 requests at the endpoint',
    () => receiver.requests.filter((r) => r.url === '/a').length >= 18,
  );
  const stats = await waitFor('8 successes in the endpoint’s statistics', async () => {
    const body = (await tenant.api('GET', `/v1/endpoints/${endpoint.id}/stats`)).body;
    return body.succeeded === 8 ? body : undefined;
  });
  t.match(stats, { endpointId: endpoint.id, bucketSeconds: 3600, succeeded: 8, failed: 10 });
  t.equal(stats.successRate, 8 / 18);
  const buckets = stats.buckets as Array<{ start: string; succeeded: number; failed: number }>;
  t.ok(buckets.length >= 1 && buckets.length <= 2, 'everything fell in the last bucket or two');
  t.equal(
    buckets.reduce((n, b) => n + b.succeeded + b.failed, 0),
    18,
  );
  t.ok(buckets.every((b) => Date.parse(b.start) >= Date.parse(stats.since as string)));
  const hour = (await tenant.api('GET', `/v1/endpoints/${endpoint.id}/stats?window=1h`)).body;
  t.equal(hour.bucketSeconds, 150);
  const none = (await tenant.api('GET', `/v1/endpoints/${quiet.id}/stats`)).body;
  t.match(none, { succeeded: 0, failed: 0, successRate: null, buckets: [] });
  t.equal((await tenant.api('GET', `/v1/endpoints/${endpoint.id}/stats?window=2y`)).status, 400);
  const stranger = await app.tenant('stranger');
  t.equal(
    (await stranger.api('GET', `/v1/endpoints/${endpoint.id}/stats`)).status,
    404,
    "another tenant's is a 404",
  );
});
