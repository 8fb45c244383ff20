-- Deliveries leave pg-boss: the messages table is their queue. A pending message is due at next_attempt_at;
-- a dispatcher claims it by moving next_attempt_at a lease ahead and writing a fresh lease_id, renews the
-- lease while it sends, and settles only while lease_id is still its own. A dispatcher that dies lets its
-- leases run out, and the messages fall due again for another (at-least-once, same webhook-id).
-- (pg-boss's per-receiver group fetch cost about twenty queries per delivery: see docs/benchmarks.md.)

alter table messages rename column queue_entry_id to lease_id;
alter table messages alter column lease_id set default gen_random_uuid();
alter table messages alter column next_attempt_at set default now();

-- Who receives the message, for per-receiver concurrency: its endpoint, or its callback URL's origin.
alter table messages add column receiver text;
update messages set receiver = coalesce(endpoint_id, substring(url from '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]+'), url);
alter table messages alter column receiver set not null;

-- Pending messages that waited on a pg-boss entry are due now.
update messages set next_attempt_at = now() where status = 'pending' and next_attempt_at is null;
