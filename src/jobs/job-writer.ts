// Writes submitted jobs by group commit: the submissions that arrive while a write is in flight share the
// next statement (one multi-row insert; a job row is also its queue entry, so that statement is the whole
// transaction). Each caller's 202 still waits for the commit that holds its job.
import { createBatcher } from '../queue/batcher.ts';
import { type AcceptedJob, acceptJobs, type NewJob } from '../store/jobs.ts';
import type { Pool } from '../store/pool.ts';

export type JobWriter = (job: NewJob) => Promise<AcceptedJob>;

const MAX_BATCH = 200;
/** Statements in flight at once: enough to overlap one's commit with the next one's insert. */
const WRITERS = 3;

export function createJobWriter(pool: Pool): JobWriter {
  const write = (jobs: NewJob[]) => acceptJobs(pool, jobs);
  const batcher = createBatcher<NewJob, AcceptedJob>(
    async (jobs) => {
      try {
        return await write(jobs);
      } catch (error) {
        if (jobs.length === 1) throw error;
        // One job the database refuses must not fail the others: write each alone, and fail only that one.
        return Promise.all(
          jobs.map((job) =>
            write([job]).then(
              ([row]) => row as AcceptedJob,
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
