-- Delivery: receivers' endpoints, one message per (event, destination), every attempt, and dead letters.

create table endpoints (
  id text primary key,                                   -- ep_…
  tenant_id text not null references tenants (id) on delete cascade,
  url text not null,
  description text not null default '',
  event_types text[],                                    -- null: every job event (operational ones must be listed)
  rate_limit_per_second int,
  headers jsonb not null default '{}',
  disabled boolean not null default false,
  secret text not null,                                  -- whsec_…
  previous_secret text,                                  -- still signs, beside the new one, until it expires
  previous_secret_expires_at timestamptz,
  failing_since timestamptz,                             -- first failed attempt since the last success
  consecutive_failures int not null default 0,
  circuit_open_until timestamptz,                        -- set: attempts wait until then, then one probes
  rate_tokens double precision,                          -- token bucket for rate_limit_per_second, shared by
  rate_refilled_at timestamptz,                          -- every worker process through this row
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index endpoints_tenant on endpoints (tenant_id, id desc);

create table messages (
  id text primary key,                                   -- msg_…: the webhook-id, the same on every attempt
  tenant_id text not null references tenants (id) on delete cascade,
  job_id text,
  endpoint_id text,                                      -- null for a job's callbackUrl
  url text not null,                                     -- the callbackUrl, or the endpoint's URL when created
  event_type text not null,
  payload jsonb not null,                                -- the webhook body
  status text not null default 'pending' check (status in ('pending', 'delivered', 'dead')),
  attempts int not null default 0,
  last_error text,
  last_response_status int,
  -- The pg-boss entry allowed to make the next attempt; others for this message are stale.
  queue_entry_id uuid not null,
  next_attempt_at timestamptz,
  created_at timestamptz not null default now(),
  delivered_at timestamptz
);

create index messages_tenant on messages (tenant_id, id desc);
create index messages_job on messages (job_id);
create index messages_endpoint on messages (endpoint_id, id desc);
create index messages_pending on messages (next_attempt_at) where status = 'pending';

create table attempts (
  id text primary key,                                   -- att_…
  message_id text not null references messages (id) on delete cascade,
  attempted_at timestamptz not null,
  duration_ms int not null,
  response_status int,
  response_body text,                                    -- the first 4 KiB
  error text
);

create index attempts_message on attempts (message_id, attempted_at);

create table dead_letters (
  id text primary key,                                   -- dl_…
  tenant_id text not null references tenants (id) on delete cascade,
  message_id text not null references messages (id) on delete cascade,
  job_id text,
  endpoint_id text,
  url text not null,
  event_type text not null,
  reason text not null check (reason in ('exhausted', 'gone', 'endpoint_disabled', 'endpoint_deleted')),
  attempts int not null,
  last_error text,
  last_response_status int,
  dead_lettered_at timestamptz not null default now(),
  replayed_at timestamptz,
  replayed_by text,
  discarded_at timestamptz
);

create index dead_letters_tenant on dead_letters (tenant_id, id desc);
create index dead_letters_endpoint on dead_letters (tenant_id, endpoint_id, dead_lettered_at);
