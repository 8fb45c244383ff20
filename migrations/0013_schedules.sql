-- Schedules: recurring jobs. pg-boss's scheduler keeps the timing (one row in pgboss.schedule per active
-- schedule, queue `hookrelay-schedules`, key = the schedule's id) and decides, across processes, when an
-- occurrence is due; this table is the schedule as the tenant sees it, and the record that makes each occurrence
-- create at most one job (last_occurrence_at only moves forward, under the row's lock).

create table schedules (
  id text primary key,
  tenant_id text not null references tenants (id) on delete cascade,
  name text,
  -- A 5-field cron expression, read in `timezone` (an IANA name).
  cron text not null,
  timezone text not null,
  -- The job each occurrence submits, as POST /v1/jobs takes it (checked again at each occurrence).
  job jsonb not null,
  overlap text not null check (overlap in ('skip', 'allow')),
  paused boolean not null default false,
  -- The latest occurrence handled (a job made, or skipped): an occurrence at or before it is a repeat. Set to the
  -- time of creation, resumption or a change of expression or zone, since pg-boss's pass sends an occurrence up to
  -- a minute old, which may be older than that.
  last_occurrence_at timestamptz,
  -- When the schedule last made a job (an occurrence or a trigger), and which.
  last_run_at timestamptz,
  last_job_id text,
  fired_count bigint not null default 0,
  skipped_count bigint not null default 0,
  -- Why the latest refused occurrence made no job (its job template no longer accepted); null once one makes a job.
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index schedules_tenant on schedules (tenant_id, id);

-- Jobs made by a schedule name it; deleting the schedule leaves them (no foreign key), still listed by its id. A
-- nullable column without a default is a change to the catalogue only. Building the index reads all of jobs and
-- blocks writes to it meanwhile (about a second per million rows); on a large table, build it first
-- `concurrently` under this name (`if not exists` then leaves it as it is).
alter table jobs add column schedule_id text;
create index if not exists jobs_schedule on jobs (tenant_id, schedule_id, id) where schedule_id is not null;
