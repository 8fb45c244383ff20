// The one pg pool a process uses for its own tables (pg-boss keeps its own, sized separately).
import pg from 'pg';
import type { Logger } from '../log.ts';

export type Pool = pg.Pool;
/** A pool or a transaction's client: what a single query needs. */
export type Queryable = Pick<Pool, 'query'>;

/**
 * No statement of the service's takes anywhere near this long. A connection that has not answered for so long is
 * gone without having said so (a network partition, a dropped route: TCP alone may take a quarter of an hour to
 * notice), and the pool discards it instead of keeping its caller and the connection stuck for good.
 */
export const QUERY_TIMEOUT_MS = 60_000;

/** See idle_in_transaction_session_timeout below. */
const IDLE_IN_TRANSACTION_MS = 10_000;

/** `queryTimeoutMs: 0` for the few connections whose statements may rightly wait long (migrations). */
export function createPool(
  url: string,
  size: number,
  log: Logger,
  applicationName: string,
  options: { queryTimeoutMs?: number } = {},
): Pool {
  const queryTimeoutMs = options.queryTimeoutMs ?? QUERY_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString: url,
    max: size,
    application_name: applicationName,
    // Bounded waits: a request must fail fast with 503 rather than hang when Postgres is away.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    query_timeout: queryTimeoutMs,
    // The client's timeout does not stop the statement on the server: Postgres cancels it a little earlier.
    statement_timeout: queryTimeoutMs === 0 ? 0 : queryTimeoutMs - 5_000,
    // No transaction of ours waits on anything but its own statements. One left open by a client that vanished
    // (a partitioned worker, whose connection Postgres still sees) would hold its row locks until Postgres
    // learnt of it, keeping others' claims off those rows: Postgres ends such a session after this long.
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    // Lets the kernel notice a peer that vanished (a host gone, a cable cut) on idle pooled connections too.
    keepAlive: true,
  });
  // An idle client's connection dropping (Postgres restart) is emitted here; unhandled, it would crash the process.
  pool.on('error', (error) => log.warn({ err: error }, 'idle database connection lost'));
  // A checked-out client has no listener of pg-pool's own, and pool.query's listener is a `once`: a connection
  // that reports its end twice (an ErrorResponse, then the socket) crashed the process when Postgres restarted
  // under load. Every client keeps this listener for life; whoever runs a statement still gets the error.
  pool.on('connect', (client) => {
    client.on('error', (error) => log.debug({ err: error }, 'database connection lost'));
  });
  return pool;
}

export interface Checkout {
  client: pg.PoolClient;
  /** Returns the client; with an error (or after its connection dropped) the pool discards it. */
  release(error?: Error): void;
}

/**
 * Checks a client out for several statements, remembering whether its connection dropped while it was out
 * (Postgres restarting between two statements), so that release discards it instead of pooling a dead one.
 */
export async function checkout(pool: Pool): Promise<Checkout> {
  const client = await pool.connect();
  let dropped: Error | undefined;
  const onError = (error: Error) => {
    dropped = error;
  };
  client.on('error', onError);
  return {
    client,
    release(error) {
      client.removeListener('error', onError);
      client.release(error ?? dropped);
    },
  };
}
