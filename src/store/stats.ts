// SQL for the operational figures metrics report: queue depths, oldest waiting work, disabled endpoints, open circuits.
import { TENANT_PRIORITY_PAIRS } from './job-queue.ts';
import type { Pool } from './pool.ts';

/**
 * Per queue (jobs run here, remote jobs claimed by tenants' workers, deliveries): how many wait (queued jobs and
 * pending messages, due or not), and how long the one due longest has been due (a remote job whose worker's lease
 * lapsed is due, as a lost in-process attempt is). Items are due at next_attempt_at, as the claims read it: a job or message whose retry (or runAt) is
 * later is not waiting yet, and a running job or a message being sent is due only once its lease has run out (its
 * worker is lost). The counts read only the partial indexes (and a row only where its page is not yet
 * all-visible). The longest due is read from the front of the claims' indexes, one entry per (tenant, priority)
 * of jobs_tenant_due and per receiver of messages_receiver_due, skipped from one to the next as the claims do:
 * its cost grows with the tenants and receivers that have work, not with the backlog.
 */
export async function queueHealth(pool: Pool) {
  const { rows } = await pool.query<{ queue: string; depth: number; oldest_seconds: number }>(
    `with recursive ${TENANT_PRIORITY_PAIRS}, receivers (receiver) as (
       (select receiver from messages where status = 'pending' order by receiver collate "C" limit 1)
       union all
       select (select m.receiver from messages m
                where m.status = 'pending' and m.receiver collate "C" > r.receiver
                order by m.receiver collate "C" limit 1)
         from receivers r where r.receiver is not null
     )
     , remote_pairs (tenant_id, type) as (
       -- The same skip for remote jobs, from one (tenant, type) to the next in jobs_remote_next.
       (select tenant_id, type from jobs where status in ('queued', 'running') and execution = 'remote'
         order by tenant_id, type limit 1)
       union all
       select next.tenant_id, next.type from remote_pairs p cross join lateral (
         select tenant_id, type from jobs
          where status in ('queued', 'running') and execution = 'remote' and (tenant_id, type) > (p.tenant_id, p.type)
          order by tenant_id, type limit 1
       ) next
     )
     select 'jobs' as queue,
            (select count(*) from jobs where status = 'queued' and execution <> 'remote')::int as depth,
            coalesce(extract(epoch from now() - (
              select min(first.at) from pairs p cross join lateral (
                select j.next_attempt_at as at from jobs j
                 where j.tenant_id = p.tenant_id and j.priority = p.priority
                   and j.status in ('queued', 'running') and j.execution <> 'remote'
                 order by j.tenant_id, j.priority desc, j.next_attempt_at limit 1) first
               where first.at <= now())), 0)::float as oldest_seconds
     union all
     select 'remote jobs', (select count(*) from jobs where status = 'queued' and execution = 'remote')::int,
            coalesce(extract(epoch from now() - (
              select min(first.at) from remote_pairs p cross join lateral (
                select j.next_attempt_at as at from jobs j
                 where j.tenant_id = p.tenant_id and j.type = p.type
                   and j.status in ('queued', 'running') and j.execution = 'remote'
                 order by j.tenant_id, j.type, j.next_attempt_at limit 1) first
               where first.at <= now())), 0)::float
     union all
     select 'deliveries', (select count(*) from messages where status = 'pending')::int,
            coalesce(extract(epoch from now() - (
              select min(first.at) from receivers r cross join lateral (
                select m.next_attempt_at as at from messages m
                 where m.receiver collate "C" = r.receiver and m.status = 'pending'
                 order by m.receiver collate "C", m.next_attempt_at limit 1) first
               where r.receiver is not null and first.at <= now())), 0)::float`,
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
