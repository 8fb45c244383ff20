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
-- Races. A row joining a key takes a transaction lock on the key (two joining at once queue one behind the
-- other), then locks the key's last unfinished row. If that row is ending in a concurrent transaction, the
-- lock waits for it and, once it has ended, skips it: the newcomer becomes the head. If the newcomer locked
-- it first, the ending transaction waits for the newcomer to commit, and its trigger, a later statement, sees
-- the newcomer and releases it. Either way no key is left without a head, and never with two.

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

/** Advisory-lock class of the per-key locks taken by rows joining a key ("ord"). */
create function hookrelay_ordering_lock(tenant text, scope text, key text) returns void
language sql volatile as $$
  select pg_advisory_xact_lock(6910564, hashtext(tenant || E'\n' || scope || E'\n' || key))
$$;

-- A job joining its key: the head (due as given) if the key has no unfinished job, else waiting.
create function hookrelay_job_joins_key() returns trigger language plpgsql volatile as $$
begin
  perform hookrelay_ordering_lock(new.tenant_id, 'job', new.ordering_key);
  new.ordering_seq := nextval('ordering_seq');
  perform 1 from jobs
    where tenant_id = new.tenant_id and ordering_key = new.ordering_key and status in ('queued', 'running')
      and id <> new.id
    order by ordering_seq desc limit 1
    for update;
  if found then
    new.next_attempt_at := null;
  end if;
  return new;
end $$;

create trigger jobs_join_key before insert on jobs
  for each row when (new.ordering_key is not null) execute function hookrelay_job_joins_key();

-- A job of a key ended: the next of its key, if none is unfinished and due, becomes due.
create function hookrelay_job_releases_key() returns trigger language plpgsql volatile as $$
declare
  released record;
begin
  if exists (select 1 from jobs
              where tenant_id = new.tenant_id and ordering_key = new.ordering_key
                and status in ('queued', 'running') and next_attempt_at is not null) then
    return null;
  end if;
  update jobs j set next_attempt_at = coalesce(j.run_at, now())
   where j.id = (select id from jobs
                  where tenant_id = new.tenant_id and ordering_key = new.ordering_key
                    and status = 'queued' and next_attempt_at is null
                  order by ordering_seq limit 1)
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
  perform hookrelay_ordering_lock(new.tenant_id, new.receiver, new.ordering_key);
  new.ordering_seq := nextval('ordering_seq');
  perform 1 from messages
    where tenant_id = new.tenant_id and receiver = new.receiver and ordering_key = new.ordering_key
      and status = 'pending' and id <> new.id
    order by ordering_seq desc limit 1
    for update;
  if found then
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

-- A message of a key delivered or dead-lettered: the next of its key to the same receiver becomes due.
create function hookrelay_message_releases_key() returns trigger language plpgsql volatile as $$
begin
  if exists (select 1 from messages
              where tenant_id = new.tenant_id and receiver = new.receiver and ordering_key = new.ordering_key
                and status = 'pending' and next_attempt_at is not null) then
    return null;
  end if;
  update messages m set next_attempt_at = now()
   where m.id = (select id from messages
                  where tenant_id = new.tenant_id and receiver = new.receiver and ordering_key = new.ordering_key
                    and status = 'pending' and next_attempt_at is null
                  order by ordering_seq limit 1);
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
