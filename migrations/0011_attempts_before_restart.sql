-- `messages.attempts` counts the attempts of the current retry schedule (a resend or replay starts a new one),
-- so a message's page could say "1 attempt" above four. The attempts of earlier schedules are kept here: a
-- message's attempt count (the API's attemptCount, a dead letter's attempts, the webhook-attempt header) is
-- earlier_attempts + attempts everywhere.
--
-- A constant default makes this a change to the catalogue only, over in moments however large the table. No
-- backfill: counting every message's attempts would hold this lock on `messages` for as long as that took,
-- stopping deliveries. Messages resent or replayed before this version go on counting from their last restart.
alter table messages add column earlier_attempts integer not null default 0;
