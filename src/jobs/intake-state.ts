// What job intake keeps between submissions in one process: the group-committing writer, and two short-lived
// caches that each spare a submission a query.
import type { Config } from '../config/config.ts';
import type { Pool } from '../store/pool.ts';
import { createJobWriter, type JobWriter } from './job-writer.ts';
import { createKnownEndpoints, type KnownEndpoints } from './known-endpoints.ts';
import { createQueueDepth, type QueueDepth } from './queue-depth.ts';

export interface IntakeState {
  /** Commits a submitted job (its row is its queue entry), sharing statements with concurrent submissions. */
  write: JobWriter;
  /** Tenants' queued-job counts for TENANT_MAX_QUEUED_JOBS, recounted at most once a second. */
  queueDepth: QueueDepth;
  /** Which endpoints tenants have, for submitted jobs' endpointId, remembered briefly. */
  knownEndpoints: KnownEndpoints;
}

export function createIntakeState(pool: Pool, config: Pick<Config, 'tenantMaxQueuedJobs'>): IntakeState {
  return {
    write: createJobWriter(pool),
    queueDepth: createQueueDepth(pool, config.tenantMaxQueuedJobs),
    knownEndpoints: createKnownEndpoints(pool),
  };
}
