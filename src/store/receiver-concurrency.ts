// SQL of the delivery concurrency each dispatching process reports per receiver (migration 0014): written about
// once a second by delivery/receiver-limits.ts, summed for the endpoint view.
import type { Queryable } from './pool.ts';

/** A report older than this is a process that stopped or hangs: its share is free again. */
const FRESH = "interval '5 seconds'";

/** What the other live processes use of a receiver. */
export interface OtherProcesses {
  limits: number;
  processes: number;
}

/**
 * Writes this process's limit and attempts in flight per receiver (and drops its rows for receivers it no
 * longer has, and anyone's that went stale a minute ago); returns what the other processes report for them.
 */
export async function reportConcurrency(
  db: Queryable,
  processId: string,
  receivers: Array<{ receiver: string; limit: number; inFlight: number }>,
): Promise<Map<string, OtherProcesses>> {
  const { rows } = await db.query<{ receiver: string; limits: number; processes: number }>({
    name: 'receiver-concurrency.report',
    text: `with mine as (
       select * from unnest($2::text[], $3::int[], $4::int[]) as r (receiver, concurrency_limit, in_flight)
     ), written as (
       insert into receiver_concurrency (receiver, process_id, concurrency_limit, in_flight, reported_at)
       select receiver, $1, concurrency_limit, in_flight, now() from mine
       on conflict (receiver, process_id) do update
         set concurrency_limit = excluded.concurrency_limit, in_flight = excluded.in_flight, reported_at = now()
     ), dropped as (
       delete from receiver_concurrency
        where (process_id = $1 and receiver <> all($2::text[])) or reported_at < now() - interval '1 minute'
     )
     select receiver, sum(concurrency_limit)::int as limits, count(*)::int as processes
       from receiver_concurrency
      where receiver = any($2::text[]) and process_id <> $1 and reported_at > now() - ${FRESH}
      group by receiver`,
    values: [
      processId,
      receivers.map((r) => r.receiver),
      receivers.map((r) => r.limit),
      receivers.map((r) => r.inFlight),
    ],
  });
  return new Map(rows.map((row) => [row.receiver, { limits: row.limits, processes: row.processes }]));
}

/** A stopping process's rows go: its share is free at once. */
export async function withdrawConcurrency(db: Queryable, processId: string): Promise<void> {
  await db.query('delete from receiver_concurrency where process_id = $1', [processId]);
}

/** Receivers' limits and attempts in flight, summed over the processes reporting them now. */
export async function concurrencyOf(
  db: Queryable,
  receivers: string[],
): Promise<Map<string, { limit: number; inFlight: number }>> {
  const { rows } = await db.query<{ receiver: string; limit: number; in_flight: number }>(
    `select receiver, sum(concurrency_limit)::int as limit, sum(in_flight)::int as in_flight
       from receiver_concurrency where receiver = any($1::text[]) and reported_at > now() - ${FRESH}
      group by receiver`,
    [receivers],
  );
  return new Map(rows.map((row) => [row.receiver, { limit: row.limit, inFlight: row.in_flight }]));
}
