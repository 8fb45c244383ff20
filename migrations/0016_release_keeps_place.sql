-- A job or message released from behind its key's head keeps its place in line: it is due from when it joined
-- the key's queue, not from its release.
--
-- Measured (`npm run bench -- ordering`): with a delivery backlog (the endpoint's adaptive limit holds it to
-- what the receiver takes), a keyed message written behind an undelivered one waited for it, and was then put
-- at the back of the backlog, due at its release: it waited out the backlog twice, and the run's last
-- deliveries came late (the 999 healthy keys at 0.85-0.89 of unkeyed in two of three runs). Due from when it
-- joined, it is claimed in its turn among the messages written at the same time.
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

-- As in 0015 (the quiet release), with the due time kept.
create or replace function hookrelay_message_releases_key() returns trigger language plpgsql volatile as $$
begin
  update messages m set next_attempt_at = coalesce(m.waiting_since, now()), waiting_since = null
   where m.id = (select id from messages
                  where tenant_id = new.tenant_id and receiver = new.receiver and ordering_key = new.ordering_key
                    and status = 'pending' and next_attempt_at is null
                  order by ordering_seq limit 1)
     and not exists (select 1 from messages
                      where tenant_id = new.tenant_id and receiver = new.receiver
                        and ordering_key = new.ordering_key and status = 'pending' and next_attempt_at is not null);
  if found and current_setting('hookrelay.release_wakes', true) is distinct from 'local' then
    perform pg_notify('hookrelay_deliveries', new.receiver);
  end if;
  return null;
end $$;

create or replace function hookrelay_job_releases_key() returns trigger language plpgsql volatile as $$
declare
  released record;
begin
  -- greatest() passes over a null runAt.
  update jobs j set next_attempt_at = greatest(j.run_at, j.created_at)
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
