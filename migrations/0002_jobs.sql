-- Jobs, their idempotency keys, and the outbox of job events the delivery side consumes.

create table jobs (
  id text primary key,                                   -- job_…, time-ordered: lists page by id
  tenant_id text not null references tenants (id) on delete cascade,
  type text not null,
  status text not null default 'queued'
    check (status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  input jsonb not null,
  callback_url text,
  endpoint_id text,
  timeout_seconds int not null,
  max_attempts int not null,
  priority int not null default 0,
  run_at timestamptz,
  metadata jsonb not null default '{}',
  attempts int not null default 0,
  progress_percent real not null default 0,
  progress_message text,
  result jsonb,
  error text,
  -- The pg-boss entry allowed to run the next attempt. Any other entry for this job (a duplicate left by a
  -- crash between our commit and pg-boss's completion) is stale and is skipped.
  queue_entry_id uuid not null,
  cancel_requested_at timestamptz,
  -- Bumped by every change; Server-Sent Events use it as the event id.
  version int not null default 0,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  completed_at timestamptz
);

create index jobs_tenant_id on jobs (tenant_id, id desc);
create index jobs_tenant_status on jobs (tenant_id, status, id desc);
create index jobs_tenant_type on jobs (tenant_id, type, id desc);
-- Queue depth and the per-tenant cap count only waiting jobs.
create index jobs_waiting on jobs (tenant_id, created_at) where status = 'queued';

create table idempotency_keys (
  tenant_id text not null references tenants (id) on delete cascade,
  key text not null,
  request_hash bytea not null,
  job_id text not null references jobs (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (tenant_id, key)
);

-- Written in the same transaction that ends a job, so a finished job can never miss its webhooks.
create table job_events (
  id bigint generated always as identity primary key,
  tenant_id text not null,
  job_id text not null,
  event_type text not null,
  payload jsonb not null,
  created_at timestamptz not null default now()
);

create index job_events_job on job_events (job_id);
