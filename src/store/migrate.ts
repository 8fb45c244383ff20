// Applies the ordered SQL files in migrations/ once each, safely when several processes start together.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import type { Logger } from '../log.ts';
import { checkout, type Pool } from './pool.ts';

export const MIGRATIONS_DIR = new URL('../../migrations/', import.meta.url);

/** Held for the whole run, so concurrent starts apply each file exactly once, one after another. */
const LOCK_KEY = 0x686f6f6b72656c; // "hookrel"
const FILE_NAME = /^\d{4}_[a-z0-9_]+\.sql$/;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export async function loadMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (await fs.readdir(dir)).filter((name) => FILE_NAME.test(name)).sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await fs.readFile(new URL(name, dir), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

/** Applies every pending migration, each in its own transaction; returns the names it applied. */
export async function migrate(pool: Pool, log: Logger, migrations: Migration[]): Promise<string[]> {
  const { client, release } = await checkout(pool);
  let failure: Error | undefined;
  try {
    await client.query('select pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(`create table if not exists hookrelay_migrations (
      name text primary key,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`);
    const applied = new Map(
      (
        await client.query<{ name: string; checksum: string }>(
          'select name, checksum from hookrelay_migrations',
        )
      ).rows.map((row) => [row.name, row.checksum]),
    );
    const pending: Migration[] = [];
    for (const migration of migrations) {
      const checksum = applied.get(migration.name);
      if (checksum === undefined) pending.push(migration);
      else if (checksum !== migration.checksum)
        throw new MigrationError(
          `migration ${migration.name} was edited after it was applied; add a new migration instead`,
        );
    }
    for (const migration of pending) {
      try {
        await client.query('begin');
        await client.query(migration.sql);
        await client.query('insert into hookrelay_migrations (name, checksum) values ($1, $2)', [
          migration.name,
          migration.checksum,
        ]);
        await client.query('commit');
        log.info({ migration: migration.name }, 'migration applied');
      } catch (error) {
        await client.query('rollback');
        throw new MigrationError(`migration ${migration.name} failed: ${(error as Error).message}`);
      }
    }
    return pending.map((migration) => migration.name);
  } catch (error) {
    failure = error as Error;
    throw error;
  } finally {
    // Unlocking can fail only with a broken connection, which release(error) then discards with its lock.
    await client.query('select pg_advisory_unlock($1)', [LOCK_KEY]).catch((error: Error) => {
      failure ??= error;
    });
    release(failure);
  }
}

/** Names of the known migrations the database has not recorded yet (readiness fails while any remain). */
export async function pendingMigrations(pool: Pool, migrations: Migration[]): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>(
    'select name from hookrelay_migrations where name = any($1)',
    [migrations.map((migration) => migration.name)],
  );
  const applied = new Set(rows.map((row) => row.name));
  return migrations.filter((migration) => !applied.has(migration.name)).map((migration) => migration.name);
}
