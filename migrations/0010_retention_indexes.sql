-- Retention reads only the rows it deletes. Before this migration it could not: two cascades searched whole
-- tables for every row deleted, and no index led to the rows to delete, so each batch read whole tables too.
-- Measured (docs/scaling.md): deleting 5,000 delivered messages with 100,000 dead letters took 31 s, 30.5 s of it
-- in the foreign-key trigger that looks for the dead letters of each deleted message; deleting 5,000 jobs with
-- 50,000 idempotency keys took 14 s in the same way.
--
-- Every index here costs writes, so each is one the hot path barely pays for (intake inserts ~5,000 jobs/s in
-- the benchmark; an insert of a queued job touches none of them):
--
-- dead_letters_message: the cascade from a deleted message to its dead letters becomes a lookup. Dead letters
--   are written only when a message fails for good, so its cost is one entry per failure.
-- idempotency_keys_job: the cascade from a deleted job to its key becomes a lookup. Keys expire by this index
--   too, so no second one on created_at: a key is written in the transaction that inserts its job, with the
--   job's time-ordered id (a reused key gets the new job's id and time), so keys older than 24 h are a range of
--   job ids, and retention still checks each key's created_at before deleting it. One entry per submission
--   that carries a key.
-- messages_delivered: the delivered messages in the order retention deletes them. Only the delivered row
--   version is indexed, written by the update that records the delivery (an update that changes status and
--   so writes new entries in every index of messages anyway): one entry per delivered message.
-- jobs_finished: the same for finished jobs, written by the update that ends a job (which changes status):
--   one entry per finished job, none at intake.
--
-- job_events needs none: its ids are an identity, so they follow created_at, and retention deletes a range of
-- ids from the lowest up, checking each row's created_at. Attempts go with their message through
-- attempts_message (0003).
--
-- retention_progress: where each sweep may start. The index entries of deleted rows stay until vacuum removes
-- them, and a scan from the start of an index reads every one of them (the first scan after the delete also
-- reads each one's heap row): measured, a sweep with nothing to delete took 0.4-0.8 s, in one statement, right
-- after another had deleted 100,000 rows from each table. Everything below a sweep's `below` (in the order of
-- its index) is deleted, so the next one starts there. One row per sweep, written once per run.
--
-- Applied in a transaction, each build here holds a lock that blocks writes to its table until it ends (about
-- 1 s per million rows of messages on the benchmark machine). On a large database, create them first with
-- `create index concurrently` and the same definitions: `if not exists` then leaves them as they are.

create index if not exists dead_letters_message on dead_letters (message_id);
create index if not exists idempotency_keys_job on idempotency_keys (job_id);
create index if not exists messages_delivered on messages (delivered_at) where status = 'delivered';
create index if not exists jobs_finished on jobs (completed_at) where status in ('succeeded', 'failed', 'cancelled');

create table retention_progress (
  sweep text primary key,                                -- messages, jobs, jobEvents, idempotencyKeys
  below text not null                                    -- a delivered_at, completed_at, job event id or job id
);
