// Gives each test file its own fresh database on the suite's Postgres, dropped when the test ends.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Test } from 'tap';

export function serverUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url)
    throw new Error('DATABASE_URL is not set: run the tests with `npm test`, which provides a Postgres');
  return url;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database and returns its URL; it is dropped (with its connections) at teardown. */
export async function freshDatabase(t: Test): Promise<string> {
  const name = `hookrelay_test_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`create database ${name}`));
  t.teardown(() => admin((client) => client.query(`drop database if exists ${name} with (force)`)));
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  return url.toString();
}
