// The `data` a job.* webhook carries (API contract, "Webhooks sent to receivers").
import type { JobRow } from '../store/jobs.ts';

const iso = (date: Date | null) => date?.toISOString() ?? null;

export function jobEventData(row: JobRow) {
  return {
    jobId: row.id,
    jobType: row.type,
    status: row.status,
    result: row.result,
    error: row.error,
    attempts: row.attempts,
    metadata: row.metadata,
    completedAt: iso(row.completed_at),
  };
}
