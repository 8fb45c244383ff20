// SQL for the operational figures metrics report: queue depths, oldest waiting work, disabled endpoints, open circuits.
import type { Pool } from './pool.ts';

export async function queueHealth(pool: Pool) {
  const { rows } = await pool.query<{ queue: string; depth: number; oldest_seconds: number }>(
    `select 'jobs' as queue, count(*)::int as depth,
            coalesce(extract(epoch from now() - min(created_at) filter (where run_at is null or run_at <= now())), 0)::float
              as oldest_seconds
       from jobs where status = 'queued'
     union all
     select 'deliveries', count(*)::int,
            coalesce(extract(epoch from now() - min(coalesce(next_attempt_at, created_at))
                     filter (where coalesce(next_attempt_at, created_at) <= now())), 0)::float
       from messages where status = 'pending'`,
  );
  const endpoints = await pool.query<{ disabled: number; open: number }>(
    `select count(*) filter (where disabled)::int as disabled,
            count(*) filter (where circuit_open_until > now())::int as open
       from endpoints`,
  );
  return {
    queues: rows.map((row) => ({ queue: row.queue, depth: row.depth, oldestSeconds: row.oldest_seconds })),
    disabledEndpoints: endpoints.rows[0]?.disabled ?? 0,
    openCircuits: endpoints.rows[0]?.open ?? 0,
  };
}
