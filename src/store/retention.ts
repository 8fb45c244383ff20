// SQL for retention: deletes old finished work in small batches. Each batch reads an index range in that index's
// order, from where the previous batch stopped, and deletes what it read: its cost is its own rows, not the rows
// kept or deleted before it, and no statement holds locks for long.
import { idFloor } from '../ids.ts';
import type { Pool } from './pool.ts';

/** Rows per statement: 20-50 ms of deleting on the benchmark machine, a few times that when it is busy. */
const BATCH = 500;

/** Intake honours an idempotency key for a day (src/store/jobs.ts). */
const KEY_LIFETIME_MS = 86_400_000;

export type RetentionTable = 'messages' | 'jobs' | 'jobEvents' | 'idempotencyKeys';

export interface RetentionBatch {
  table: RetentionTable;
  deleted: number;
  ms: number;
}

export interface SweepOptions {
  /** Called after each batch. */
  onBatch?: (batch: RetentionBatch) => void;
  /** No batch starts after this (ms since the epoch): what is left waits for the next sweep. */
  until?: number;
}

/**
 * Runs batches of `sql` until one deletes less than a full batch (the range is exhausted, or it reached rows to
 * keep) or time is up. `sql` takes the cursor ($1), the batch size ($2) and `values` ($3…), and returns `deleted`
 * and `last`, the highest key it read, where the next batch starts. Everything below the last batch's cursor is
 * gone, so the next sweep starts there (retention_progress) instead of at `lowest`: past the index entries of
 * the rows deleted before, which stay until vacuum, and which a scan from the lowest key would read again.
 */
async function sweep(
  pool: Pool,
  table: RetentionTable,
  sql: string,
  values: unknown[],
  lowest: string,
  { onBatch, until = Number.POSITIVE_INFINITY }: SweepOptions,
): Promise<number> {
  const saved = await pool.query<{ below: string }>('select below from retention_progress where sweep = $1', [
    table,
  ]);
  const start = saved.rows[0]?.below ?? lowest;
  let cursor = start;
  let total = 0;
  while (Date.now() < until) {
    const started = performance.now();
    const { rows } = await pool.query<{ deleted: number; last: string | null }>(sql, [
      cursor,
      BATCH,
      ...values,
    ]);
    const deleted = rows[0]?.deleted ?? 0;
    const ms = performance.now() - started;
    onBatch?.({ table, deleted, ms });
    total += deleted;
    const last = rows[0]?.last;
    if (deleted < BATCH || !last) break;
    cursor = last;
    // Three times as long before the next: a sweep is busy a quarter of the time at most. Its WAL (about the size
    // of the rows it deletes) is what the service's commits wait behind; sweeping flat out, or half the time,
    // raised the service's latency more (docs/scaling.md, Retention).
    await new Promise((resolve) => setTimeout(resolve, ms * 3));
  }
  if (cursor !== start)
    await pool.query(
      `insert into retention_progress (sweep, below) values ($1, $2)
       on conflict (sweep) do update set below = excluded.below`,
      [table, cursor],
    );
  return total;
}

/**
 * One batch of `table`: `batch` selects it (`id`, and `key`, the cursor), and the rows that also meet `condition`
 * are deleted by primary key. A batch that locks its rows (`for update`) reads each locked row as it is now, so a
 * row changed meanwhile (a message replayed, a key reused) is left out if it no longer qualifies.
 */
const batchOf = (table: string, batch: string, condition = 'true') =>
  `with batch as materialized (${batch}),
        gone as (delete from ${table} t using batch where t.id = batch.id and ${condition} returning 1)
   select (select count(*)::int from gone) as deleted, (select max(key)::text from batch) as last`;

/**
 * Deletes delivered messages (with their attempts), finished jobs and job events older than `olderThan`, and
 * idempotency keys older than a day; returns how many rows of each. Dead messages stay with their dead letters.
 */
export async function deleteOldWork(pool: Pool, olderThan: Date, options: SweepOptions = {}) {
  // Each table gets an equal share of the time left when its turn comes (what one leaves goes to those after
  // it), so a backlog of messages does not take every sweep's time and leave the other tables growing.
  const until = options.until ?? Number.POSITIVE_INFINITY;
  let tablesLeft = 4;
  const turn = (): SweepOptions => {
    const now = Date.now();
    const share = Math.max(0, until - now) / tablesLeft;
    tablesLeft -= 1;
    return { ...options, until: now + share };
  };
  return {
    // Through messages_delivered, oldest first; each batch starts at the delivered_at the previous one ended
    // at (>=: more rows may share it). Cascades to the attempts (attempts_message) and to the dead letters of a
    // message replayed and then delivered (dead_letters_message).
    messages: await sweep(
      pool,
      'messages',
      batchOf(
        'messages',
        `select id, delivered_at as key from messages
          where status = 'delivered' and delivered_at >= $1::timestamptz and delivered_at < $3
          order by delivered_at limit $2 for update`,
      ),
      [olderThan],
      '-infinity',
      turn(),
    ),
    // Through jobs_finished, the same way. Cascades to the job's idempotency key (idempotency_keys_job).
    jobs: await sweep(
      pool,
      'jobs',
      batchOf(
        'jobs',
        `select id, completed_at as key from jobs
          where status in ('succeeded', 'failed', 'cancelled') and completed_at >= $1::timestamptz
            and completed_at < $3
          order by completed_at limit $2 for update`,
      ),
      [olderThan],
      '-infinity',
      turn(),
    ),
    // Identity ids follow created_at, so the old events are the lowest ids: batches read up the primary key from
    // the lowest, and the first that keeps an event ends the sweep. (An event committed late may have a lower id
    // than one made before it: a later sweep deletes it, never an early one, since created_at is checked.)
    jobEvents: await sweep(
      pool,
      'jobEvents',
      batchOf(
        'job_events',
        'select id, id as key, created_at from job_events where id > $1::bigint order by id limit $2',
        'batch.created_at < $3',
      ),
      [olderThan],
      '0',
      turn(),
    ),
    // A key is written in its job's transaction with the job's time-ordered id (a reused key takes the new
    // job's), so the keys older than a day are those of job ids below the id of a day ago, in
    // idempotency_keys_job. created_at is checked as well, so no key goes early whatever the clock of the
    // process that made its job id.
    idempotencyKeys: await sweep(
      pool,
      'idempotencyKeys',
      `with batch as materialized (
         select tenant_id, key, job_id from idempotency_keys where job_id >= $1 and job_id < $3
          order by job_id limit $2
       ), gone as (
         delete from idempotency_keys k using batch
          where (k.tenant_id, k.key) = (batch.tenant_id, batch.key)
            and k.created_at < now() - $4 * interval '1 millisecond'
         returning 1
       )
       select (select count(*)::int from gone) as deleted, (select max(job_id) from batch) as last`,
      [idFloor('job', new Date(Date.now() - KEY_LIFETIME_MS)), KEY_LIFETIME_MS],
      '',
      turn(),
    ),
  };
}
