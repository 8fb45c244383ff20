-- Job claims share workers fairly between tenants. They used to take due jobs highest priority first across all
-- tenants, so one tenant's burst of long jobs took every worker slot and another tenant's job waited for one to
-- free (38.5 s behind 100 jobs of 45 s, against 0.03 s alone).
--
-- Now a claim finds the (tenant, priority) pairs with due jobs by skipping from one to the next in this index (one
-- probe each), serves tenants in rounds, the one with the fewest jobs running first, and takes each pair's due
-- jobs from the front of its range. jobs_due (due order across tenants) goes: with it, the planner could take a
-- tenant's due jobs by reading every tenant's in due order and filtering (the trap migration 0008 describes for
-- messages). Both indexes hold the same rows, so writes cost the same.

create index jobs_tenant_due on jobs (tenant_id, priority desc, next_attempt_at) where status in ('queued', 'running');
drop index jobs_due;

-- The running jobs of a tenant, counted by every claim (for its share and TENANT_MAX_RUNNING_JOBS): a few entries
-- per tenant. Without it the planner counted them through jobs_tenant_due, reading the tenant's whole backlog
-- (5,000 entries, 100 times in one claim: 300 ms). One entry per attempt started.
create index jobs_running on jobs (tenant_id) where status = 'running';
