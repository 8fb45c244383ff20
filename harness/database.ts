// Fresh databases on a Postgres server, one per test file, scenario or benchmark, dropped after.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

async function onServer<T>(serverUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export interface FreshDatabase {
  url: string;
  /** A small pool on it, for reading what happened (connects when first used). */
  db: pg.Pool;
  /** Drops it, with its connections. */
  drop(): Promise<void>;
}

/** Creates an empty database on the server at `serverUrl`. */
export async function freshDatabase(serverUrl: string, prefix = 'hookrelay'): Promise<FreshDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await onServer(serverUrl, (client) => client.query(`create database ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = new pg.Pool({ connectionString: url.toString(), max: 2 });
  // A scenario may restart the server under it: a dropped idle connection is not an error of the run.
  db.on('error', () => undefined);
  return {
    url: url.toString(),
    db,
    async drop() {
      await db.end();
      await onServer(serverUrl, (client) => client.query(`drop database if exists ${name} with (force)`));
    },
  };
}

export async function count(db: pg.Pool, sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: number }>(sql, values);
  return rows[0]?.n ?? 0;
}
