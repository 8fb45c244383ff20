// A Server-Sent Events stream of an object's changes: initial state, one event per change, heartbeats,
// `Last-Event-ID` resume, and an end after the last event, on client disconnect, or at shutdown.
import type { FastifyReply, FastifyRequest } from 'fastify';

const HEARTBEAT_MS = 15_000;

export interface EventSource<T> {
  /** Ends the stream (shutdown). */
  stop: AbortSignal;
  /** Registers for change notifications; returns the unsubscribe function. */
  subscribe(onChange: () => void): () => void;
  read(): Promise<T | undefined>;
  /** Increases with every change; it is the event id clients resume from. */
  version(value: T): number;
  event(value: T, previous: T | undefined): { type: string; data: unknown };
  isLast(value: T): boolean;
}

export function streamEvents<T>(request: FastifyRequest, reply: FastifyReply, source: EventSource<T>): void {
  const resumeFrom = Number(request.headers['last-event-id']);
  let sentVersion = Number.isSafeInteger(resumeFrom) ? resumeFrom : -1;
  let previous: T | undefined;
  let reading = false;
  let again = false;
  let ended = false;

  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': request.id,
  });

  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    unsubscribe();
    source.stop.removeEventListener('abort', end);
    res.end();
  };

  // Reads are serialised: a notification during a read schedules one more read, never two at once.
  const refresh = async () => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        const value = await source.read();
        if (ended) return;
        if (!value) return end();
        const version = source.version(value);
        if (version > sentVersion) {
          const { type, data } = source.event(value, previous);
          res.write(`id: ${version}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
          sentVersion = version;
        }
        previous = value;
        if (source.isLast(value)) return end();
      } while (again);
    } catch (error) {
      request.log.warn({ err: error }, 'event stream read failed');
      end();
    } finally {
      reading = false;
    }
  };

  const unsubscribe = source.subscribe(() => void refresh());
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  res.on('close', end);
  source.stop.addEventListener('abort', end, { once: true });
  // A client that hung up while the request was being authenticated closed the response already: its
  // 'close' has fired, and would never end this stream.
  if (source.stop.aborted || res.closed) end();
  else void refresh();
}
