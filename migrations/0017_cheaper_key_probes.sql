-- Keyed writes and endings, cheaper where nothing waits.
--
-- Measured (`npm run bench -- ordering` on a server with pg_stat_statements tracking nested statements, one
-- round): the job release trigger's probe for a waiting successor was the costliest statement a keyed job adds
-- (10,500 calls, 17 us each, finding nothing every time). It read jobs_ordering, which holds every live version
-- of the key's jobs: each job leaves two (queued, running) until vacuum, and the probe visits each one's row to
-- learn it is dead. The waiting rows get an index of their own, empty but for a backlog, so the probe is one
-- descent. The same for messages.
--
-- Applied in a transaction, each build holds a lock that blocks writes to its table until it ends (quick: only
-- waiting rows are indexed, but every row is read). On a large database, create them first with
-- `create index concurrently` and the same definitions: `if not exists` then leaves them as they are.
create index if not exists jobs_key_waiting on jobs (tenant_id, ordering_key, ordering_seq)
  where ordering_key is not null and status = 'queued' and next_attempt_at is null;
create index if not exists messages_key_waiting on messages (tenant_id, receiver, ordering_key, ordering_seq)
  where ordering_key is not null and status = 'pending' and next_attempt_at is null;

-- And the writers' key locks (0016) look for the keys' live heads once before anything else: most keyed writes
-- find none, and then there is nothing to lock and nothing to check again (under the advisory locks a key gains
-- a head only from a release, whose ending head the look would have found live), so no subtransaction either.
-- When there are heads, the first pass locks what that look found, in id order, and each later pass what the
-- check after the previous one found. The look is written out twice in each function, as in 0016: plpgsql keeps
-- each statement's plan for the session, where a SQL function holding it would be planned on every call before
-- Postgres 18.
create or replace function hookrelay_lock_job_keys(tenants text[], keys text[]) returns int language plpgsql volatile as $$
declare
  heads text[];
  live text[];
  head text;
begin
  perform count(pg_advisory_xact_lock(6910564, h)) from (
    select distinct hookrelay_ordering_hash(u.t, 'job', u.k) as h
      from unnest(tenants, keys) as u (t, k) where u.k is not null order by h) ordered;
  -- The keys' live heads, in id order (the order they are locked in).
  heads := array(
    select h.id
      from (select distinct u.t, u.k from unnest(tenants, keys) as u (t, k) where u.k is not null) u
      cross join lateral (
        select j.id from jobs j
         where j.tenant_id = u.t and j.ordering_key = u.k and j.status in ('queued', 'running')
           and j.next_attempt_at is not null
         -- In jobs_ordering's order: the probe is that index's range for the key.
         order by j.tenant_id, j.ordering_key, j.ordering_seq) h
     order by h.id);
  if cardinality(heads) = 0 then
    return 0;
  end if;
  loop
    begin
      foreach head in array heads loop
        perform 1 from jobs where id = head for update;
      end loop;
      live := array(
        select h.id
          from (select distinct u.t, u.k from unnest(tenants, keys) as u (t, k) where u.k is not null) u
          cross join lateral (
            select j.id from jobs j
             where j.tenant_id = u.t and j.ordering_key = u.k and j.status in ('queued', 'running')
               and j.next_attempt_at is not null
             -- In jobs_ordering's order: the probe is that index's range for the key.
             order by j.tenant_id, j.ordering_key, j.ordering_seq) h
         order by h.id);
      if live <@ heads then
        return 0;
      end if;
      -- Kept through the rollback below: plpgsql variables are not transactional.
      heads := live;
      raise exception using errcode = 'HRLK1';
    exception when sqlstate 'HRLK1' then
      -- The heads moved while this waited: the locks are let go, and taken again.
    end;
  end loop;
end $$;

create or replace function hookrelay_lock_message_keys(tenants text[], receivers text[], keys text[]) returns int language plpgsql volatile as $$
declare
  heads text[];
  live text[];
  head text;
begin
  perform count(pg_advisory_xact_lock(6910564, h)) from (
    select distinct hookrelay_ordering_hash(u.t, u.r, u.k) as h
      from unnest(tenants, receivers, keys) as u (t, r, k) where u.k is not null order by h) ordered;
  -- The keys' live heads, in id order (the order they are locked in).
  heads := array(
    select h.id
      from (select distinct u.t, u.r, u.k from unnest(tenants, receivers, keys) as u (t, r, k)
             where u.k is not null) u
      cross join lateral (
        select m.id from messages m
         where m.tenant_id = u.t and m.receiver = u.r and m.ordering_key = u.k and m.status = 'pending'
           and m.next_attempt_at is not null
         -- In messages_ordering's order, as above.
         order by m.tenant_id, m.receiver, m.ordering_key, m.ordering_seq) h
     order by h.id);
  if cardinality(heads) = 0 then
    return 0;
  end if;
  loop
    begin
      foreach head in array heads loop
        perform 1 from messages where id = head for update;
      end loop;
      live := array(
        select h.id
          from (select distinct u.t, u.r, u.k from unnest(tenants, receivers, keys) as u (t, r, k)
                 where u.k is not null) u
          cross join lateral (
            select m.id from messages m
             where m.tenant_id = u.t and m.receiver = u.r and m.ordering_key = u.k and m.status = 'pending'
               and m.next_attempt_at is not null
             -- In messages_ordering's order, as above.
             order by m.tenant_id, m.receiver, m.ordering_key, m.ordering_seq) h
         order by h.id);
      if live <@ heads then
        return 0;
      end if;
      -- Kept through the rollback below: plpgsql variables are not transactional.
      heads := live;
      raise exception using errcode = 'HRLK1';
    exception when sqlstate 'HRLK1' then
      -- As above.
    end;
  end loop;
end $$;
