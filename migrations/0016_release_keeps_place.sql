-- A job or message released from behind its key's head keeps its place in line: it is due from when it joined
-- the key's queue, not from its release.
--
-- Measured (`npm run bench -- ordering`): with a delivery backlog (the endpoint's adaptive limit holds it to
-- what the receiver takes), a keyed message written behind an undelivered one waited for it, and was then put
-- at the back of the backlog, due at its release: it waited out the backlog twice, and the run's last
-- deliveries came late (the 999 healthy keys at 0.85-0.89 of unkeyed in two of three runs). Due from when it
-- joined, it is claimed in its turn among the messages written at the same time.
--
-- And the writers' key locks (hookrelay_lock_*_keys) find and lock each key's head through indexes whatever the
-- statistics: 0014's versions, with plans made while the table was small (a fresh database, or a session's
-- first calls), read the whole table on every call: 0.9 ms instead of 0.3 for 14 keys beside 10,000 jobs.
--
-- A message joins its key's queue when written or when sent again (a resend or replay goes to the back), so the
-- time is kept apart from created_at; a job joins only when submitted, so its created_at (or its runAt, if
-- later) is that time.
alter table messages add column waiting_since timestamptz;

create or replace function hookrelay_message_joins_key() returns trigger language plpgsql volatile as $$
begin
  perform pg_advisory_xact_lock(6910564, hookrelay_ordering_hash(new.tenant_id, new.receiver, new.ordering_key));
  new.ordering_seq := nextval('ordering_seq');
  if exists (select 1 from messages
              where tenant_id = new.tenant_id and receiver = new.receiver and ordering_key = new.ordering_key
                and status = 'pending' and id <> new.id) then
    new.next_attempt_at := null;
    new.leased := false;
    new.waiting_since := now();
  end if;
  return new;
end $$;

-- The releases, as in 0014 and 0015 (the quiet release), with the due time kept, and a probe first: most
-- endings have nothing waiting behind them, and one index probe says so for half of what the update with its
-- subqueries cost (measured: ending 20 keyed jobs took 0.30 ms more than 20 unkeyed, 0.14 with the probe).
--
-- And again until something is released or the key has a live head: the successor found can end in another
-- transaction meanwhile (a waiting job cancelled, a waiting message dead-lettered), whose own release saw this
-- head still live and released nothing. The update waits for that transaction, then no longer matches; 0014's
-- single update stopped there and left the key with no head. Each pass starts after a candidate ended, so the
-- loop ends.
create or replace function hookrelay_message_releases_key() returns trigger language plpgsql volatile as $$
declare
  next_id text;
begin
  loop
    select id into next_id from messages
     where tenant_id = new.tenant_id and receiver = new.receiver and ordering_key = new.ordering_key
       and status = 'pending' and next_attempt_at is null
     order by ordering_seq limit 1;
    exit when next_id is null;
    update messages m set next_attempt_at = coalesce(m.waiting_since, now()), waiting_since = null
     where m.id = next_id and m.status = 'pending' and m.next_attempt_at is null
       and not exists (select 1 from messages
                        where tenant_id = new.tenant_id and receiver = new.receiver
                          and ordering_key = new.ordering_key and status = 'pending' and next_attempt_at is not null);
    if found then
      if current_setting('hookrelay.release_wakes', true) is distinct from 'local' then
        perform pg_notify('hookrelay_deliveries', new.receiver);
      end if;
      exit;
    end if;
    exit when exists (select 1 from messages
                       where tenant_id = new.tenant_id and receiver = new.receiver
                         and ordering_key = new.ordering_key and status = 'pending' and next_attempt_at is not null);
  end loop;
  return null;
end $$;

create or replace function hookrelay_job_releases_key() returns trigger language plpgsql volatile as $$
declare
  next_id text;
  released record;
begin
  loop
    select id into next_id from jobs
     where tenant_id = new.tenant_id and ordering_key = new.ordering_key and status = 'queued'
       and next_attempt_at is null
     order by ordering_seq limit 1;
    exit when next_id is null;
    -- greatest() passes over a null runAt.
    update jobs j set next_attempt_at = greatest(j.run_at, j.created_at)
     where j.id = next_id and j.status = 'queued' and j.next_attempt_at is null
       and not exists (select 1 from jobs
                        where tenant_id = new.tenant_id and ordering_key = new.ordering_key
                          and status in ('queued', 'running') and next_attempt_at is not null)
    returning j.tenant_id, j.execution, j.next_attempt_at into released;
    if found then
      if released.next_attempt_at <= now() then
        if released.execution = 'remote' then
          perform pg_notify('hookrelay_remote_due', released.tenant_id);
        else
          perform pg_notify('hookrelay_jobs_due', '');
        end if;
      end if;
      exit;
    end if;
    exit when exists (select 1 from jobs
                       where tenant_id = new.tenant_id and ordering_key = new.ordering_key
                         and status in ('queued', 'running') and next_attempt_at is not null);
  end loop;
  return null;
end $$;

-- Each head is locked by its primary key, one statement each, in id order: a single statement locking the rows
-- whose ids a subquery gave was planned as a scan of the whole table when its plan was made on a small one.
--
-- And the heads are looked up again once every lock is held: while this waited for one head's ending, another
-- key's head can have ended and released a successor that is ending now, in a transaction not committed yet,
-- whose release already ran (and saw no newcomer). Unlocked, the insert trigger would see that successor live and
-- write the newcomer waiting behind it, and nothing would release it. So if a live head is not among those
-- locked, the locks are let go (a subtransaction rolled back) and taken again, in id order, heads looked up anew:
-- never out of order, so no new cycle of waits. Each retry follows an ending that committed, so the loop ends.
create or replace function hookrelay_lock_job_keys(tenants text[], keys text[]) returns int language plpgsql volatile as $$
declare
  head record;
  locked text[];
begin
  perform count(pg_advisory_xact_lock(6910564, h)) from (
    select distinct hookrelay_ordering_hash(u.t, 'job', u.k) as h
      from unnest(tenants, keys) as u (t, k) where u.k is not null order by h) ordered;
  loop
    begin
      locked := '{}';
      for head in
        select h.id
          from (select distinct u.t, u.k from unnest(tenants, keys) as u (t, k) where u.k is not null) u
          cross join lateral (
            select j.id from jobs j
             where j.tenant_id = u.t and j.ordering_key = u.k and j.status in ('queued', 'running')
               and j.next_attempt_at is not null
             -- In jobs_ordering's order: the probe is that index's range for the key.
             order by j.tenant_id, j.ordering_key, j.ordering_seq) h
         order by h.id
      loop
        perform 1 from jobs where id = head.id for update;
        locked := locked || head.id;
      end loop;
      if not exists (
        select 1
          from (select distinct u.t, u.k from unnest(tenants, keys) as u (t, k) where u.k is not null) u
          cross join lateral (
            select j.id from jobs j
             where j.tenant_id = u.t and j.ordering_key = u.k and j.status in ('queued', 'running')
               and j.next_attempt_at is not null
             order by j.tenant_id, j.ordering_key, j.ordering_seq) h
         where h.id <> all(locked)) then
        return 0;
      end if;
      raise exception using errcode = 'HRLK1';
    exception when sqlstate 'HRLK1' then
      -- The heads moved while this waited: the locks are let go, and taken again.
    end;
  end loop;
end $$;

create or replace function hookrelay_lock_message_keys(tenants text[], receivers text[], keys text[]) returns int
language plpgsql volatile as $$
declare
  head record;
  locked text[];
begin
  perform count(pg_advisory_xact_lock(6910564, h)) from (
    select distinct hookrelay_ordering_hash(u.t, u.r, u.k) as h
      from unnest(tenants, receivers, keys) as u (t, r, k) where u.k is not null order by h) ordered;
  loop
    begin
      locked := '{}';
      for head in
        select h.id
          from (select distinct u.t, u.r, u.k from unnest(tenants, receivers, keys) as u (t, r, k)
                 where u.k is not null) u
          cross join lateral (
            select m.id from messages m
             where m.tenant_id = u.t and m.receiver = u.r and m.ordering_key = u.k and m.status = 'pending'
               and m.next_attempt_at is not null
             -- In messages_ordering's order, as above.
             order by m.tenant_id, m.receiver, m.ordering_key, m.ordering_seq) h
         order by h.id
      loop
        perform 1 from messages where id = head.id for update;
        locked := locked || head.id;
      end loop;
      if not exists (
        select 1
          from (select distinct u.t, u.r, u.k from unnest(tenants, receivers, keys) as u (t, r, k)
                 where u.k is not null) u
          cross join lateral (
            select m.id from messages m
             where m.tenant_id = u.t and m.receiver = u.r and m.ordering_key = u.k and m.status = 'pending'
               and m.next_attempt_at is not null
             order by m.tenant_id, m.receiver, m.ordering_key, m.ordering_seq) h
         where h.id <> all(locked)) then
        return 0;
      end if;
      raise exception using errcode = 'HRLK1';
    exception when sqlstate 'HRLK1' then
      -- As above.
    end;
  end loop;
end $$;
