// Runs work in one transaction on one pooled client: commit on success, rollback on any error.
import type pg from 'pg';
import { checkout, type Pool } from './pool.ts';

export type Tx = pg.PoolClient;

export async function withTransaction<T>(pool: Pool, work: (tx: Tx) => Promise<T>): Promise<T> {
  const { client, release } = await checkout(pool);
  let broken: Error | undefined;
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    // A client whose rollback failed has a broken connection: release(error) discards it.
    release(broken);
  }
}
