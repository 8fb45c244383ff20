// The chaos scenarios' fault proxy against a tiny TCP echo server on loopback: each fault does what it says on
// open and new connections, and the proxy leaves nothing running once closed.
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import t from 'tap';
import { startFaultProxy } from './fault-proxy.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function echoServer() {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A connected client that collects what it receives and notes when it closes. */
async function client(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  let received = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('close', () => reject(new Error('closed before connecting')));
  });
  return {
    socket,
    closed,
    received: () => received,
    /** Resolves once `bytes` bytes have arrived in all. */
    async until(bytes: number, timeoutMs = 2000) {
      const deadline = performance.now() + timeoutMs;
      while (received.length < bytes) {
        if (performance.now() > deadline)
          throw new Error(`only ${received.length} of ${bytes} bytes arrived`);
        await sleep(2);
      }
      return received;
    },
  };
}

/** Whether `promise` settles within `ms`; a test fails instead of hanging. */
const within = (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise.then(() => true), sleep(ms).then(() => false)]);

const echo = await echoServer();
const proxy = await startFaultProxy({ host: '127.0.0.1', port: echo.port });
t.teardown(async () => {
  await proxy.close();
  await echo.close();
});

t.test('passes bytes through both ways', async (t) => {
  const c = await client(proxy.port);
  c.socket.write('hello');
  t.equal((await c.until(5)).toString(), 'hello');
  t.equal(proxy.connections(), 1);

  // More than the proxy holds back and the sockets buffer, so backpressure is exercised, under latency.
  proxy.set({ kind: 'latency', ms: 20 });
  const payload = randomBytes(4 * 1024 * 1024);
  c.socket.write(payload);
  const back = (await c.until(5 + payload.length, 2500)).subarray(5);
  const digest = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
  t.equal(digest(back), digest(payload), 'every byte, in order');
  proxy.set({ kind: 'none' });
  c.socket.destroy();
  await c.closed;
});

t.test('latency delays each direction and keeps the order', async (t) => {
  const c = await client(proxy.port);
  proxy.set({ kind: 'latency', ms: 100 });
  const started = performance.now();
  c.socket.write('x');
  await c.until(1);
  t.ok(performance.now() - started >= 180, 'a round trip costs about 2 × 100 ms more');

  // Many small writes spread over several event-loop turns, so they reach the proxy as separate chunks.
  const pieces = Array.from({ length: 200 }, (_, i) => `${i},`);
  for (const [i, piece] of pieces.entries()) {
    c.socket.write(piece);
    if (i % 20 === 0) await sleep(1);
  }
  const expected = `x${pieces.join('')}`;
  t.equal((await c.until(expected.length)).toString(), expected);
  proxy.set({ kind: 'none' });
  c.socket.destroy();
  await c.closed;
});

t.test('a blackhole swallows everything until lifted', async (t) => {
  const before = await client(proxy.port);
  proxy.set({ kind: 'blackhole' });
  const during = await client(proxy.port);
  before.socket.write('lost');
  during.socket.write('lost');
  await sleep(300);
  t.equal(before.received().length, 0, 'no echo on a connection opened before');
  t.equal(during.received().length, 0, 'no echo on a connection opened during');
  t.equal(proxy.connections(), 2, 'both connections stay open');

  proxy.set({ kind: 'none' });
  const after = await client(proxy.port);
  after.socket.write('back');
  t.equal((await after.until(4)).toString(), 'back');
  for (const c of [before, during, after]) c.socket.destroy();
  await Promise.all([before.closed, during.closed, after.closed]);
});

t.test('a reset closes open connections and refuses new ones', async (t) => {
  const open = await client(proxy.port);
  open.socket.write('ok');
  await open.until(2);
  proxy.set({ kind: 'reset' });
  t.ok(await within(open.closed, 500), 'the open connection closes promptly');

  const fresh = net.connect({ host: '127.0.0.1', port: proxy.port });
  fresh.on('error', () => {});
  t.ok(await within(new Promise((resolve) => fresh.once('close', resolve)), 500), 'a new one closes at once');
  t.equal(proxy.connections(), 0);

  proxy.set({ kind: 'none' });
  const after = await client(proxy.port);
  after.socket.write('back');
  t.equal((await after.until(4)).toString(), 'back', 'lifting it lets connections through again');
  after.socket.destroy();
  await after.closed;
});

t.test('close ends every connection and stops listening', async (t) => {
  const own = await startFaultProxy({ host: '127.0.0.1', port: echo.port });
  const c = await client(own.port);
  c.socket.write('hi');
  await c.until(2);
  await own.close();
  t.ok(await within(c.closed, 500), 'the client sees its connection close');
  t.equal(own.connections(), 0);
  await t.rejects(client(own.port), 'nothing listens any more');
});
