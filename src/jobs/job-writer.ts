// Writes submitted jobs with their queue entries by group commit: the submissions that arrive while a write
// is in flight share the next transaction (one multi-row insert per table). Each caller's 202 still waits for
// the commit that holds its job.
import type { PgBoss } from 'pg-boss';
import { enqueueAttempts } from '../queue/job-queue.ts';
import { createBatcher } from '../store/batcher.ts';
import { insertJobs, type JobRow, type NewJob } from '../store/jobs.ts';
import type { Pool } from '../store/pool.ts';
import { withTransaction } from '../store/transaction.ts';

export type JobWriter = (job: NewJob) => Promise<JobRow>;

const MAX_BATCH = 200;
/** Transactions in flight at once: enough to overlap one's commit with the next one's statements. */
const WRITERS = 3;

export function createJobWriter(pool: Pool, boss: PgBoss): JobWriter {
  const write = (jobs: NewJob[]) =>
    withTransaction(pool, async (tx) => {
      const rows = await insertJobs(tx, jobs);
      await enqueueAttempts(
        boss,
        tx,
        jobs.map((job) => ({
          id: job.id,
          entryId: job.queueEntryId,
          timeoutSeconds: job.timeoutSeconds,
          maxAttempts: job.maxAttempts,
          priority: job.priority,
          ...(job.runAt && { startAfter: job.runAt }),
        })),
      );
      return rows;
    });
  const batcher = createBatcher<NewJob, JobRow>(
    async (jobs) => {
      try {
        return await write(jobs);
      } catch (error) {
        if (jobs.length === 1) throw error;
        // One job the database refuses must not fail the others: write each alone, and fail only that one.
        return Promise.all(
          jobs.map((job) =>
            write([job]).then(
              ([row]) => row as JobRow,
              (alone: unknown) => (alone instanceof Error ? alone : new Error(String(alone))),
            ),
          ),
        );
      }
    },
    { maxBatch: MAX_BATCH, maxConcurrent: WRITERS },
  );
  return (job) => batcher.add(job);
}
