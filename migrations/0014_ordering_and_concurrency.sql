-- Ordering keys (jobs and their messages) and adaptive per-endpoint delivery concurrency.
--
-- ORDERING. Jobs of a tenant sharing an ordering key form a queue, and so do their messages to each receiver.
-- Only the head of such a queue is in the claim indexes' due range: the others are written with no due time
-- (next_attempt_at null, which sorts after every due entry in jobs_tenant_due and messages_receiver_due), so a
-- claim never reads past them, however many keys are blocked: its cost stays the batch plus a probe per
-- (tenant, priority) or receiver, as before. When the head ends (a job finished, failed or cancelled; a message
-- delivered or dead-lettered) a trigger gives the next of its key its due time, in the same transaction.
--
-- Why triggers: every way a job or message ends (a worker, a cancel, a lapsed lease, a drain, a batch of
-- deliveries recorded in one statement) releases the next one, with no code path that can forget it. Their
-- statements run in a volatile function, so each takes a fresh snapshot and sees what committed meanwhile.
--
-- Races. Rows join a key through the writers of jobs and messages (insertJobs, insertMessages, restartMessages),
-- whose statements first call hookrelay_lock_*_keys: transaction locks on the keys, in one order (so writers of
-- several keys cannot deadlock), then row locks on the keys' heads, in id order. A head that is ending in a
-- concurrent transaction makes the writer wait for it, and it is then seen ended: the newcomer becomes the
-- head, or waits behind the successor the ending released. If the writer locked the head first, the ending
-- waits for the writer's commit, and its trigger, a later statement, sees the newcomer and releases it. So no
-- key is left without a head, and none has two. Why heads and in id order: the statements that end heads in
-- batches (successes recorded together) lock their rows in id order too, and endings take no key lock, so no
-- cycle of waits can form; locking a key's last row instead, in key order, could deadlock against them.

create sequence ordering_seq;

alter table jobs add column ordering_key text;
alter table jobs add column ordering_seq bigint;
alter table messages add column ordering_key text;
alter table messages add column ordering_seq bigint;

-- A key's unfinished jobs in submission order: the tail a newcomer locks, the next to release.
create index jobs_ordering on jobs (tenant_id, ordering_key, ordering_seq)
  where ordering_key is not null and status in ('queued', 'running');
-- A receiver's pending messages of a key in order (the same for messages), and a key's messages for
-- GET /v1/messages?orderingKey=.
create index messages_ordering on messages (tenant_id, receiver, ordering_key, ordering_seq)
  where ordering_key is not null and status = 'pending';
create index messages_ordering_key on messages (tenant_id, ordering_key, id desc) where ordering_key is not null;

-- The key lock: advisory-lock class "ord" (6910564), the second key a hash of tenant, scope ('job', or the
-- message's receiver) and key. Two keys with the same hash share a lock: they only wait for each other.
create function hookrelay_ordering_hash(tenant text, scope text, key text) returns int
language sql immutable parallel safe as $$
  select hashtext(tenant || E'\n' || scope || E'\n' || key)
$$;

-- Before rows join keys of jobs: the keys locked in hash order, then their heads in id order (see Races). Each
-- statement of a volatile function sees what committed before it began, so the heads are read after the locks.
-- PL/pgSQL, not SQL: it keeps its statements' plans across calls.
create function hookrelay_lock_job_keys(tenants text[], keys text[]) returns int language plpgsql volatile as $$
begin
  perform count(pg_advisory_xact_lock(6910564, h)) from (
    select distinct hookrelay_ordering_hash(u.t, 'job', u.k) as h
      from unnest(tenants, keys) as u (t, k) where u.k is not null order by h) ordered;
  perform 1 from jobs where id = any(array(
      select j.id from (select distinct u.t, u.k from unnest(tenants, keys) as u (t, k) where u.k is not null) u
        join jobs j on j.tenant_id = u.t and j.ordering_key = u.k
                   and j.status in ('queued', 'running') and j.next_attempt_at is not null))
    order by id for update;
  return 0;
end $$;

-- The same for messages, whose keys are per receiver.
create function hookrelay_lock_message_keys(tenants text[], receivers text[], keys text[]) returns int
language plpgsql volatile as $$
begin
  perform count(pg_advisory_xact_lock(6910564, h)) from (
    select distinct hookrelay_ordering_hash(u.t, u.r, u.k) as h
      from unnest(tenants, receivers, keys) as u (t, r, k) where u.k is not null order by h) ordered;
  perform 1 from messages where id = any(array(
      select m.id
        from (select distinct u.t, u.r, u.k from unnest(tenants, receivers, keys) as u (t, r, k)
               where u.k is not null) u
        join messages m on m.tenant_id = u.t and m.receiver = u.r and m.ordering_key = u.k
                       and m.status = 'pending' and m.next_attempt_at is not null))
    order by id for update;
  return 0;
end $$;

-- A job joining its key: the head (due as given) if the key has no unfinished job, else waiting. Its writer
-- holds the key's lock already (hookrelay_lock_job_keys); taking it again costs little and keeps two writers of
-- one key in line even if one did not.
create function hookrelay_job_joins_key() returns trigger language plpgsql volatile as $$
begin
  perform pg_advisory_xact_lock(6910564, hookrelay_ordering_hash(new.tenant_id, 'job', new.ordering_key));
  new.ordering_seq := nextval('ordering_seq');
  if exists (select 1 from jobs
              where tenant_id = new.tenant_id and ordering_key = new.ordering_key
                and status in ('queued', 'running')) then
    new.next_attempt_at := null;
  end if;
  return new;
end $$;

create trigger jobs_join_key before insert on jobs
  for each row when (new.ordering_key is not null) execute function hookrelay_job_joins_key();

-- A job of a key ended: the next of its key becomes due, unless one of the key is due or running already.
create function hookrelay_job_releases_key() returns trigger language plpgsql volatile as $$
declare
  released record;
begin
  update jobs j set next_attempt_at = coalesce(j.run_at, now())
   where j.id = (select id from jobs
                  where tenant_id = new.tenant_id and ordering_key = new.ordering_key
                    and status = 'queued' and next_attempt_at is null
                  order by ordering_seq limit 1)
     and not exists (select 1 from jobs
                      where tenant_id = new.tenant_id and ordering_key = new.ordering_key
                        and status in ('queued', 'running') and next_attempt_at is not null)
  returning j.tenant_id, j.execution, j.next_attempt_at into released;
  if found and released.next_attempt_at <= now() then
    if released.execution = 'remote' then
      perform pg_notify('hookrelay_remote_due', released.tenant_id);
    else
      perform pg_notify('hookrelay_jobs_due', '');
    end if;
  end if;
  return null;
end $$;

create trigger jobs_release_key after update of status on jobs
  for each row when (new.ordering_key is not null and old.status in ('queued', 'running')
                     and new.status not in ('queued', 'running'))
  execute function hookrelay_job_releases_key();

-- A message joining its key's queue to its receiver: written, or sent again (resend, replay: to the back).
create function hookrelay_message_joins_key() returns trigger language plpgsql volatile as $$
begin
  perform pg_advisory_xact_lock(6910564, hookrelay_ordering_hash(new.tenant_id, new.receiver, new.ordering_key));
  new.ordering_seq := nextval('ordering_seq');
  if exists (select 1 from messages
              where tenant_id = new.tenant_id and receiver = new.receiver and ordering_key = new.ordering_key
                and status = 'pending' and id <> new.id) then
    new.next_attempt_at := null;
    new.leased := false;
  end if;
  return new;
end $$;

create trigger messages_join_key before insert on messages
  for each row when (new.ordering_key is not null) execute function hookrelay_message_joins_key();
create trigger messages_rejoin_key before update of status on messages
  for each row when (new.ordering_key is not null and old.status <> 'pending' and new.status = 'pending')
  execute function hookrelay_message_joins_key();

-- A message of a key delivered or dead-lettered: the next of its key to the same receiver becomes due, unless
-- one of the key is due already.
create function hookrelay_message_releases_key() returns trigger language plpgsql volatile as $$
begin
  update messages m set next_attempt_at = now()
   where m.id = (select id from messages
                  where tenant_id = new.tenant_id and receiver = new.receiver and ordering_key = new.ordering_key
                    and status = 'pending' and next_attempt_at is null
                  order by ordering_seq limit 1)
     and not exists (select 1 from messages
                      where tenant_id = new.tenant_id and receiver = new.receiver
                        and ordering_key = new.ordering_key and status = 'pending' and next_attempt_at is not null);
  if found then
    perform pg_notify('hookrelay_deliveries', new.receiver);
  end if;
  return null;
end $$;

create trigger messages_release_key after update of status on messages
  for each row when (new.ordering_key is not null and old.status = 'pending' and new.status <> 'pending')
  execute function hookrelay_message_releases_key();

-- ADAPTIVE CONCURRENCY. The most attempts in flight to an endpoint, across processes (null: the configured
-- default), and whether the limit adapts below it. A Retry-After on 429 or 503 pauses the whole endpoint until
-- paused_until: claims pass it over meanwhile.
alter table endpoints add column max_concurrency int check (max_concurrency between 1 and 1000);
alter table endpoints add column adaptive_concurrency boolean not null default true;
alter table endpoints add column paused_until timestamptz;

-- Each dispatching process's current limit and attempts in flight per receiver, written every second or so:
-- the endpoint view sums the fresh rows, and each process keeps its limit within what the others leave of
-- the endpoint's maxConcurrency (a budget shared through this table, eventually consistent).
create table receiver_concurrency (
  receiver text not null,
  process_id text not null,
  concurrency_limit int not null,
  in_flight int not null,
  reported_at timestamptz not null default now(),
  primary key (receiver, process_id)
);
