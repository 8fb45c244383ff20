-- Delivery claims cost what they take, not the backlog. The claim used to read pending messages in due order
-- through messages_pending and filter out receivers whose share was full: with 100,000 due messages for one hung
-- receiver, every claim read past all of them (38 ms) to find another receiver's ten, at least twice a second
-- per process, growing with exactly the receiver the share was meant to isolate.
--
-- Now a claim visits receivers (one index probe each, in turn from where the previous claim stopped, skipping
-- those full in the claiming process and disabled or deleted endpoints) and takes each one's due messages from
-- the front of this index, a range scan that stops at the first not yet due. Its cost is the batch plus one probe
-- per receiver with pending messages visited, whatever the backlog behind them. A pending message's index entry
-- is rewritten by the same updates that rewrite its messages_pending entry (claims and retries change
-- next_attempt_at), so this adds one index entry per such update.

-- In byte order ("C"), whatever the database's collation: the claimer compares receivers to find where a claim
-- stopped, and must order them as the index does.
create index messages_receiver_due on messages (receiver collate "C", next_attempt_at) where status = 'pending';

-- messages_pending (due order across receivers) goes: with it the planner may take a receiver's due messages
-- by reading every due message in due order and filtering out other receivers' (it did, in 35 ms, with the
-- statistics saying there are two receivers). Without it, nothing but this index leads to due messages.
drop index messages_pending;
