// The one pg pool a process uses for its own tables (pg-boss keeps its own, sized separately).
import pg from 'pg';
import type { Logger } from '../log.ts';

export type Pool = pg.Pool;
/** A pool or a transaction's client: what a single query needs. */
export type Queryable = Pick<Pool, 'query'>;

export function createPool(url: string, size: number, log: Logger, applicationName: string): Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: size,
    application_name: applicationName,
    // Bounded waits: a request must fail fast with 503 rather than hang when Postgres is away.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client's connection dropping (Postgres restart) is emitted here; unhandled, it would crash the process.
  pool.on('error', (error) => log.warn({ err: error }, 'idle database connection lost'));
  return pool;
}
