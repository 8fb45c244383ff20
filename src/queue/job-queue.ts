// The pg-boss queue that runs job attempts. Each entry carries only a job id; our jobs table is the truth.
import { randomUUID } from 'node:crypto';
import type { PgBoss } from 'pg-boss';
import type { Config } from '../config/config.ts';
import type { Tx } from '../store/transaction.ts';
import { ensureQueue } from './boss.ts';

export const JOB_QUEUE = 'hookrelay-jobs';

/** Margin beyond a job's own timeout before pg-boss treats an entry as lost. */
const EXPIRY_GRACE_SECONDS = 60;

export interface JobEntryData {
  jobId: string;
}

export async function createJobQueue(boss: PgBoss, config: Config): Promise<void> {
  await ensureQueue(boss, JOB_QUEUE, {
    // Wake workers by NOTIFY when an entry is created, instead of waiting out a polling interval.
    notify: true,
    // A worker that stops heart-beating (killed) loses its entry to another after this long.
    heartbeatSeconds: config.jobHeartbeatSeconds,
  });
}

type AttemptOf = {
  id: string;
  timeoutSeconds: number;
  maxAttempts: number;
  priority: number;
  startAfter?: Date | number;
};

function entryOptions(job: AttemptOf) {
  return {
    priority: job.priority,
    ...(job.startAfter !== undefined && { startAfter: job.startAfter }),
    expireInSeconds: job.timeoutSeconds + EXPIRY_GRACE_SECONDS,
    // pg-boss retries an entry only when its worker died or errored outside the handler; the runner counts
    // that as a lost attempt, so the entry never needs more retries than the job has attempts.
    retryLimit: job.maxAttempts,
    retryDelay: 1,
    retryBackoff: true,
  };
}

/** Enqueues the first attempts of many jobs with one statement, in the caller's transaction (see below). */
export async function enqueueAttempts(
  boss: PgBoss,
  tx: Tx,
  jobs: Array<AttemptOf & { entryId: string }>,
): Promise<void> {
  await boss.insert(
    JOB_QUEUE,
    jobs.map((job) => ({
      id: job.entryId,
      data: { jobId: job.id } satisfies JobEntryData,
      ...entryOptions(job),
      startAfter: job.startAfter === undefined ? undefined : new Date(job.startAfter),
    })),
    { db: { executeSql: (text, values) => tx.query(text, values) } },
  );
}

/**
 * Enqueues the entry that will run a job's next attempt, inside the caller's transaction, so the job row and
 * its queue entry commit together or not at all. Returns the entry id, to be stored on the job row.
 */
export async function enqueueAttempt(
  boss: PgBoss,
  tx: Tx,
  job: AttemptOf,
  entryId: string = randomUUID(),
): Promise<string> {
  await boss.send(JOB_QUEUE, { jobId: job.id } satisfies JobEntryData, {
    id: entryId,
    ...entryOptions(job),
    db: { executeSql: (text, values) => tx.query(text, values) },
  });
  return entryId;
}
