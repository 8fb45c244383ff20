-- A tenant's own job types, run outside hookrelay: `remote` ones by workers that claim their jobs over HTTP,
-- `push` ones by a signed POST of each attempt to the type's URL. Both report through a task token, one per
-- attempt, and both hold the job on the queue engine's lease (jobs.lease_id and next_attempt_at, migration 0005):
-- a heartbeat moves next_attempt_at ahead by heartbeat_seconds, never past the attempt's deadline, and a lease
-- that lapses makes the job due again, to be counted as a failed attempt by whoever claims it next.

create table job_types (
  tenant_id text not null references tenants (id) on delete cascade,
  name text not null,
  execution text not null check (execution in ('remote', 'push')),
  url text,
  -- JSON Schema (draft 2020-12) of the input, checked at submission; null takes any JSON.
  input_schema jsonb,
  timeout_seconds int not null,
  heartbeat_seconds int not null,
  description text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, name),
  check ((execution = 'push') = (url is not null))
);

-- How a job runs. In-process jobs ('builtin', 'task') are claimed by the workers' claim loop as before; 'push'
-- jobs too (an attempt is a POST); 'remote' jobs only by POST /v1/worker/claim. Rows written before this
-- migration read as 'builtin' (a task job among them too). A column with a constant default is a change to the
-- catalogue only; its check is added `not valid` for the same reason (checked on every new row, and the old
-- rows all hold the default): validating it would read the whole table under this migration's lock.
alter table jobs add column execution text not null default 'builtin';
alter table jobs add constraint jobs_execution_check
  check (execution in ('builtin', 'task', 'remote', 'push')) not valid;
-- Remote and push jobs: the lease a heartbeat grants, copied from the type at submission.
alter table jobs add column heartbeat_seconds int;
-- The attempt's time cap (its claim plus timeout_seconds), which no heartbeat moves.
alter table jobs add column attempt_deadline timestamptz;
-- The last heartbeat of the attempt through its task token.
alter table jobs add column heartbeat_at timestamptz;
-- When a push attempt was handed over to its task token (its answer 202); until then the worker that POSTed it
-- holds the lease, as for any in-process attempt.
alter table jobs add column handed_over_at timestamptz;

-- Task tokens: the SHA-256 of each attempt's token (256 random bits, shown once to its worker) and the lease of
-- the attempt it was issued for. A token whose lease is no longer the job's is stale: kept, so that its worker
-- hears 409 (not 404) and can tell a lost lease from a typo. Deleted with the job.
create table task_tokens (
  token_hash bytea primary key,
  job_id text not null references jobs (id) on delete cascade,
  lease_id uuid not null,
  created_at timestamptz not null default now()
);
create index task_tokens_job on task_tokens (job_id);

-- In-process claims leave remote jobs alone: they are claimed by tenant and type, through their own index. (On a
-- large table, build the new indexes `concurrently` under their names before applying this, as for 0010; the
-- drops and creates here then find them. jobs_tenant_due and jobs_running change their predicates, so build
-- them under new names, drop the old ones, and rename.)
drop index jobs_tenant_due;
create index jobs_tenant_due on jobs (tenant_id, priority desc, next_attempt_at)
  where status in ('queued', 'running') and execution <> 'remote';
create index jobs_remote_due on jobs (tenant_id, type, priority desc, next_attempt_at)
  where status in ('queued', 'running') and execution = 'remote';
-- When the next of a type's remote jobs falls due, for a claim waiting for one (the index above orders by
-- priority first).
create index jobs_remote_next on jobs (tenant_id, type, next_attempt_at)
  where status in ('queued', 'running') and execution = 'remote';
-- Remote attempts whose lease may lapse, for the sweep that counts them when no worker claims their type any more.
create index jobs_remote_running on jobs (next_attempt_at) where status = 'running' and execution = 'remote';
-- The running jobs a tenant's fair share and TENANT_MAX_RUNNING_JOBS count (migration 0009) are those that take a
-- worker slot here: a remote attempt runs on the tenant's own worker.
drop index jobs_running;
create index jobs_running on jobs (tenant_id) where status = 'running' and execution <> 'remote';

-- Worker keys: a tenant's key that reaches only /v1/worker/*.
alter table api_keys drop constraint api_keys_role_check;
alter table api_keys drop constraint api_keys_check;
alter table api_keys add constraint api_keys_role_check check (role in ('tenant', 'worker', 'admin'));
alter table api_keys add constraint api_keys_check check ((role <> 'admin') = (tenant_id is not null));
