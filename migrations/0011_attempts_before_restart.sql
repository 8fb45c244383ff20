-- `messages.attempts` counts the attempts of the current retry schedule (a resend or replay starts a new one),
-- so a message's page could say "1 attempt" above four. The attempts of earlier schedules are kept here: a
-- message's attempt count (the API's attemptCount, a dead letter's attempts, the webhook-attempt header) is
-- earlier_attempts + attempts everywhere.
alter table messages add column earlier_attempts integer not null default 0;

-- Messages restarted before this column existed: their earlier attempts are the recorded ones beyond the count.
update messages m
   set earlier_attempts = greatest(0, a.n - m.attempts)
  from (select message_id, count(*)::int as n from attempts group by message_id) a
 where a.message_id = m.id and a.n > m.attempts;
