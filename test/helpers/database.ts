// Gives each test file its own fresh database on the suite's Postgres, dropped when the test ends.
import type { Test } from 'tap';
import { freshDatabase as createDatabase } from '../../harness/database.ts';

export function serverUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url)
    throw new Error('DATABASE_URL is not set: run the tests with `npm test`, which provides a Postgres');
  return url;
}

/** Creates an empty database and returns its URL; it is dropped (with its connections) at teardown. */
export async function freshDatabase(t: Test): Promise<string> {
  const database = await createDatabase(serverUrl(), 'hookrelay_test');
  t.teardown(() => database.drop());
  return database.url;
}
