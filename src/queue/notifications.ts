// One LISTEN connection per process, fanning Postgres notifications out to in-process listeners: job changes
// (SSE streams and long polls wait on them instead of polling per client), cancel requests, revoked keys, and
// jobs and deliveries falling due (the claim loops and waiting remote claims wake on them).
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Logger } from '../log.ts';
import { CANCEL_CHANNEL, JOB_CHANNEL, JOBS_DUE_CHANNEL, REMOTE_DUE_CHANNEL } from '../store/jobs.ts';
import { DELIVERY_CHANNEL } from '../store/messages.ts';
import { KEYS_CHANNEL } from '../store/tenants.ts';

const RESYNC = 'resync';
const RECONNECT_DELAY_MS = 1_000;
/**
 * A LISTEN connection hears nothing when nothing happens, so a silently dead one (a partition, a route gone: no
 * error, no end for many minutes) looks like a quiet one. It is asked a trivial question this often, and
 * replaced when the answer does not come in time.
 */
const PROBE_EVERY_MS = 10_000;
const PROBE_TIMEOUT_MS = 5_000;

export interface Notifications {
  /**
   * Calls `listener` when the job may have changed, and after a reconnect (notifications sent while the
   * connection was down are lost, so every listener re-reads). Returns the unsubscribe function.
   */
  onJobChange(jobId: string, listener: () => void): () => void;
  /** Calls `listener` with a job id whose cancellation was requested, or with no id after a reconnect. */
  onCancelRequest(listener: (jobId?: string) => void): () => void;
  /** Calls `listener` with the id of an API key revoked somewhere, or with no id after a reconnect. */
  onKeysChange(listener: (keyId?: string) => void): () => void;
  /**
   * Calls `listener` when messages fell due (new, resent, replayed) with their receivers when known, and
   * after a reconnect (with none: any may have work).
   */
  onDeliveriesDue(listener: (receivers: string[]) => void): () => void;
  /** Calls `listener` when jobs fell due (submitted, put back for another attempt), and after a reconnect. */
  onJobsDue(listener: () => void): () => void;
  /** Calls `listener` when the tenant's remote jobs fell due (submitted, put back at once), and after a reconnect. */
  onRemoteJobsDue(tenantId: string, listener: () => void): () => void;
  /** Aborted when the hub closes (shutdown): open streams end themselves on it. */
  closing: AbortSignal;
  close(): Promise<void>;
}

export async function startNotifications(url: string, log: Logger): Promise<Notifications> {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const closing = new AbortController();
  let client: pg.Client | undefined;

  async function connect(): Promise<void> {
    while (!closing.signal.aborted) {
      const candidate = new pg.Client({
        connectionString: url,
        application_name: 'hookrelay-listen',
        // A connection that cannot be made (a partition) fails fast and is tried again.
        connectionTimeoutMillis: PROBE_TIMEOUT_MS,
      });
      try {
        candidate.on('notification', ({ channel, payload }) => {
          // A batched change names its jobs comma-separated.
          if (channel === JOB_CHANNEL) for (const id of (payload ?? '').split(',')) emitter.emit(`job:${id}`);
          else if (channel === CANCEL_CHANNEL) emitter.emit('cancel', payload);
          else if (channel === KEYS_CHANNEL) emitter.emit('keys', payload);
          else if (channel === DELIVERY_CHANNEL)
            emitter.emit('deliveries', payload ? payload.split(',') : []);
          else if (channel === JOBS_DUE_CHANNEL) emitter.emit('jobs-due');
          else if (channel === REMOTE_DUE_CHANNEL) emitter.emit(`remote-due:${payload}`);
        });
        candidate.on('error', (error) => log.warn({ err: error }, 'notification connection lost'));
        candidate.on('end', () => {
          if (client === candidate) client = undefined;
          if (!closing.signal.aborted) void connect();
        });
        await candidate.connect();
        await candidate.query({
          text: [
            JOB_CHANNEL,
            CANCEL_CHANNEL,
            KEYS_CHANNEL,
            DELIVERY_CHANNEL,
            JOBS_DUE_CHANNEL,
            REMOTE_DUE_CHANNEL,
          ]
            .map((channel) => `listen ${channel};`)
            .join(' '),
          query_timeout: PROBE_TIMEOUT_MS,
        } as pg.QueryConfig);
        client = candidate;
        probe(candidate);
        emitter.emit(RESYNC);
        return;
      } catch (error) {
        candidate.removeAllListeners('end');
        // Not awaited: behind a partition its end may never come.
        void candidate.end().catch(() => undefined);
        log.warn({ err: error }, 'cannot listen for notifications; retrying');
        await sleep(RECONNECT_DELAY_MS, undefined, { signal: closing.signal }).catch(() => undefined);
      }
    }
  }

  /** Replaces the connection when it stops answering (see PROBE_EVERY_MS). */
  function probe(candidate: pg.Client): void {
    const timer = setInterval(() => {
      if (client !== candidate) return clearInterval(timer);
      candidate
        .query({ text: 'select 1', query_timeout: PROBE_TIMEOUT_MS } as pg.QueryConfig)
        .catch((error) => {
          if (client !== candidate || closing.signal.aborted) return;
          log.warn({ err: error }, 'notification connection not answering; replacing it');
          clearInterval(timer);
          client = undefined;
          candidate.removeAllListeners('end');
          candidate.removeAllListeners('notification');
          // Its end may never come through a partition: the new connection does not wait for it.
          void candidate.end().catch(() => undefined);
          void connect();
        });
    }, PROBE_EVERY_MS);
    timer.unref();
  }

  await connect();

  /** Subscribes to one event and to reconnects (`resync`: what the listener gets then); returns the undo. */
  function subscribe<A extends unknown[]>(
    event: string,
    listener: (...args: A) => void,
    resync: () => void,
  ): () => void {
    emitter.on(event, listener);
    emitter.on(RESYNC, resync);
    return () => {
      emitter.off(event, listener);
      emitter.off(RESYNC, resync);
    };
  }

  return {
    onJobChange: (jobId, listener) => subscribe(`job:${jobId}`, listener, listener),
    onCancelRequest: (listener) => subscribe('cancel', listener, () => listener()),
    onKeysChange: (listener) => subscribe('keys', listener, () => listener()),
    onDeliveriesDue: (listener) => subscribe('deliveries', listener, () => listener([])),
    onJobsDue: (listener) => subscribe('jobs-due', listener, listener),
    onRemoteJobsDue: (tenantId, listener) => subscribe(`remote-due:${tenantId}`, listener, listener),
    closing: closing.signal,
    async close() {
      closing.abort();
      await client?.end().catch(() => undefined);
    },
  };
}
