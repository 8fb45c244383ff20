// A fault-injecting TCP proxy of our own, in the spirit of toxiproxy, for chaos scenarios that put it between a
// worker process and PostgreSQL on loopback. The kernel here has no netem, so the network faults the scenarios
// need (a slow link, a partition, connections killed) are injected in user space, one connection pair at a time.
//
// What a scenario must know:
// - set() applies at once to open connections as well as new ones. Only a blackhole or a reset loses bytes.
// - Latency is per direction, so a round trip costs 2 × ms more. Bytes keep their order: a chunk leaves at its
//   arrival plus the latency in force when it leaves, so lowering the latency releases what is waiting now.
//   A FIN or RST travels behind the data, delayed like it.
// - A blackhole is a partition: both directions are read and dropped, so the peers hang on open sockets. Not
//   even a FIN or RST crosses it; those are held and passed on once it is lifted, as TCP would retransmit them.
//   New connections are accepted and connected upstream as usual (Postgres sees a client that says nothing,
//   as it would behind a partition): simpler than parking them, and lifting needs no catch-up. Lifting does not
//   repair the connections it cut: their protocol is broken, the client must time out and reconnect.
// - A reset sends RST on both sides of every open connection, and on every new one while it lasts (without
//   connecting upstream).
import net from 'node:net';

export type Fault =
  | { kind: 'none' }
  /** Added delay per direction: a round trip costs 2 × ms more. */
  | { kind: 'latency'; ms: number }
  /** Read and drop every byte both ways, on open and new connections. */
  | { kind: 'blackhole' }
  /** RST every open connection now, and every new one while it lasts. */
  | { kind: 'reset' };

export interface FaultProxy {
  /** Listening on 127.0.0.1. */
  port: number;
  /** `url` with its host and port replaced by the proxy's (for postgres:// URLs). */
  rewrite(url: string): string;
  /** Takes effect at once for existing and new connections. */
  set(fault: Fault): void;
  /**
   * Open client connections right now. A client that has hung up no longer counts, even while the proxy
   * still holds its pair (its FIN held back by a blackhole, say).
   */
  connections(): number;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

// Past this much held back by latency, stop reading the sender, so a slow link slows the sender instead of
// buffering without bound.
const HIGH_WATER = 1024 * 1024;

interface Pipe {
  from: net.Socket;
  to: net.Socket;
  queue: { at: number; chunk: Buffer }[];
  queued: number;
  /** How the sender hung up and when; passed on behind the data. */
  closing?: { at: number; how: 'end' | 'reset' };
  timer?: NodeJS.Timeout;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  pipes: [Pipe, Pipe];
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let fault: Fault = { kind: 'none' };
  const pairs = new Set<Pair>();

  const latency = () => (fault.kind === 'latency' ? fault.ms : 0);

  // Forwards what is due, in order, as far as the receiver takes it; then decides whether to keep reading.
  function pump(pipe: Pipe): void {
    clearTimeout(pipe.timer);
    // A destroyed receiver can take nothing more, and must leave no timer behind.
    if (fault.kind === 'blackhole' || pipe.to.destroyed) {
      pipe.queue = [];
      pipe.queued = 0;
    } else {
      release(pipe, latency());
    }
    // A blackhole must keep reading (and dropping), or the sender would see a full window, not a partition.
    const full = pipe.queued > HIGH_WATER || pipe.to.writableNeedDrain;
    if (full && fault.kind !== 'blackhole') pipe.from.pause();
    else pipe.from.resume();
  }

  function release(pipe: Pipe, ms: number): void {
    while (!pipe.to.writableNeedDrain) {
      const next = pipe.queue[0];
      const due = (next ?? pipe.closing)?.at;
      if (due === undefined) return;
      const wait = due + ms - performance.now();
      if (wait > 0) {
        pipe.timer = setTimeout(() => pump(pipe), Math.ceil(wait));
        return;
      }
      if (!next) {
        hangUp(pipe);
        return;
      }
      pipe.queue.shift();
      pipe.queued -= next.chunk.length;
      pipe.to.write(next.chunk);
    }
  }

  function connect(from: net.Socket, to: net.Socket): Pipe {
    const pipe: Pipe = { from, to, queue: [], queued: 0 };
    from.on('data', (chunk: Buffer) => {
      if (fault.kind === 'blackhole') return;
      pipe.queue.push({ at: performance.now(), chunk });
      pipe.queued += chunk.length;
      pump(pipe);
    });
    from.on('end', () => {
      pipe.closing = { at: performance.now(), how: 'end' };
      pump(pipe);
    });
    // Hung up without a FIN, or failed after one: the other side gets an RST, as it would end to end.
    from.on('close', (hadError) => {
      if (!hadError && from.readableEnded) return;
      pipe.closing = { at: performance.now(), how: 'reset' };
      pump(pipe);
    });
    to.on('drain', () => pump(pipe));
    return pipe;
  }

  function accept(client: net.Socket): void {
    client.on('error', ignore);
    if (fault.kind === 'reset') {
      rst(client);
      return;
    }
    const upstream = net.connect({ ...target, allowHalfOpen: true, noDelay: true });
    upstream.on('error', ignore);
    const pair: Pair = { client, upstream, pipes: [connect(client, upstream), connect(upstream, client)] };
    pairs.add(pair);
    const settle = () => {
      if (client.destroyed && upstream.destroyed) forget(pair);
    };
    client.on('close', settle);
    upstream.on('close', settle);
  }

  function forget(pair: Pair): void {
    for (const pipe of pair.pipes) clearTimeout(pipe.timer);
    pairs.delete(pair);
  }

  // The proxy listens with half-open sockets so that a FIN in one direction still lets the other drain, and
  // with Nagle off so it adds no delay the direct path would not have.
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, accept);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Failed accepts (EMFILE and the like) must not bring the scenario down; the client sees its own error.
  server.on('error', ignore);
  const { port } = server.address() as net.AddressInfo;

  return {
    port,
    rewrite(url) {
      const rewritten = new URL(url);
      rewritten.hostname = '127.0.0.1';
      rewritten.port = String(port);
      return rewritten.toString();
    },
    set(next) {
      fault = next;
      for (const pair of pairs) {
        if (fault.kind === 'reset') {
          rst(pair.client);
          rst(pair.upstream);
        } else {
          for (const pipe of pair.pipes) pump(pipe);
        }
      }
    },
    connections: () => [...pairs].filter(({ client }) => !client.destroyed && !client.readableEnded).length,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
        forget(pair);
      }
      await closed;
    },
  };
}

function hangUp(pipe: Pipe): void {
  if (pipe.closing?.how === 'end') pipe.to.end();
  else rst(pipe.to);
  pipe.closing = undefined;
}

function rst(socket: net.Socket): void {
  if (!socket.destroyed) socket.resetAndDestroy();
}

// Resets and refusals are what the faults are for; each socket's other listeners deal with the close.
function ignore(): void {}
