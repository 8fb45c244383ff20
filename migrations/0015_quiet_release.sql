-- A message of a key released by the dispatcher's record of deliveries wakes no one through Postgres.
--
-- Measured (`npm run bench -- ordering`, pg_stat_activity sampled): NOTIFY serialises the commits of every
-- transaction that sends one (Postgres holds one database-wide lock from before commit until after its WAL
-- flush), and the release trigger made the batched record of deliveries one of them. Those records hold the
-- delivered messages' row locks while they wait their turn; the writers of the next messages of those keys
-- (job endings) wait for the rows, and intakes of keyed jobs wait for the job endings: keyed intake ran at
-- 0.81-0.93 of unkeyed. The dispatcher that records deliveries wakes its own claim loop as each attempt ends
-- (src/delivery/claimer.ts), so the message released is claimed without the notification; the record marks
-- its transaction ('hookrelay.release_wakes' = 'local', transaction-scoped), and every other path that ends
-- a message (an attempt failing for good, a drain, a cancel from another process) still notifies.
create or replace function hookrelay_message_releases_key() returns trigger language plpgsql volatile as $$
begin
  update messages m set next_attempt_at = now()
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
