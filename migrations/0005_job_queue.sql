-- Job attempts leave pg-boss: the jobs table is their queue, as the messages table is for deliveries (0004).
-- A queued job is due at next_attempt_at. A worker claims it by starting it with a fresh lease_id and moving
-- next_attempt_at a lease (JOB_HEARTBEAT) ahead, renews the lease while the attempt runs, and settles the
-- attempt only while lease_id is still its own. A running job whose lease ran out lost its worker: it is due
-- again, and the worker that claims it next decides (another attempt, or failed when none is left).
-- (pg-boss's insert, fetch and completion were a third of the statement time of a job, and half the round
-- trips of a submission: docs/benchmarks.md.)
--
-- Stop the workers of earlier builds before applying this: they run attempts from pg-boss entries, which
-- this build no longer reads (it deletes their queue at start).

alter table jobs rename column queue_entry_id to lease_id;
alter table jobs alter column lease_id set default gen_random_uuid();
alter table jobs add column next_attempt_at timestamptz;

-- Queued jobs are due as they were; the attempts running when the old workers stopped are lost, due now.
update jobs set next_attempt_at = coalesce(run_at, now()) where status = 'queued';
update jobs set next_attempt_at = now() where status = 'running';

-- Claims read this index in order: highest priority first, then the longest due.
create index jobs_due on jobs (priority desc, next_attempt_at) where status in ('queued', 'running');
