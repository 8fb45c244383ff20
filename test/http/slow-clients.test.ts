// Clients that trickle their requests (slowloris) are cut off: headers and whole requests have time limits,
// unauthenticated connections included; a response that takes long (a long poll) is not limited.
import net from 'node:net';
import t from 'tap';
import { jobsApp } from '../helpers/jobs-app.ts';

const app = await jobsApp(t, { HTTP_HEADERS_TIMEOUT: '1s', HTTP_REQUEST_TIMEOUT: '2s' });
const { hostname, port } = new URL(app.base);

/** Opens a connection, sends `first`, then one more byte every `everyMs`; resolves with what the server said and when it closed. */
function trickle(first: string, everyMs: number): Promise<{ answer: string; afterMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(Number(port), hostname, () => socket.write(first));
    let answer = '';
    const drip = setInterval(() => socket.writable && socket.write('a'), everyMs);
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(drip);
      resolve({ answer, afterMs: Date.now() - started });
    });
  });
}

t.test('headers sent a byte at a time are cut off after HTTP_HEADERS_TIMEOUT', async (t) => {
  const { answer, afterMs } = await trickle('GET /v1/jobs HTTP/1.1\r\nHost: x\r\nX-Slow: ', 300);
  t.match(answer, /^HTTP\/1\.1 408 /, 'answered 408 Request Timeout');
  t.match(answer, /not received in time/);
  t.ok(afterMs < 5_000, `closed after ${afterMs} ms (limit 1 s, checked every second)`);
});

t.test('a body sent a byte at a time is cut off after HTTP_REQUEST_TIMEOUT', async (t) => {
  const tenant = await app.tenant('trickle');
  const head =
    'POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n' +
    `Authorization: Bearer ${tenant.key}\r\n\r\n`;
  const { answer, afterMs } = await trickle(head, 300);
  t.match(answer, /^HTTP\/1\.1 408 /, 'answered 408 Request Timeout');
  t.match(answer, /not received in time/);
  t.ok(afterMs < 6_000, `closed after ${afterMs} ms (limit 2 s, checked every second)`);
});

t.test('a long poll outlasts the request timeout: only receiving the request is limited', async (t) => {
  const tenant = await app.tenant('slow');
  const job = await tenant.api('POST', '/v1/jobs', {
    type: 'demo.report',
    input: { steps: 1, stepMs: 3_500 },
  });
  const started = Date.now();
  const done = await tenant.api<{ status: string }>('GET', `/v1/jobs/${job.body.id}?waitSeconds=20`);
  t.equal(done.status, 200);
  t.equal(done.body.status, 'succeeded');
  t.ok(Date.now() - started > 2_000, 'the answer came after the 2 s request timeout');
});
