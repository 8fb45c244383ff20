// SQL for an endpoint's delivery history: its attempts counted by outcome in time buckets.
import type { Queryable } from './pool.ts';

export interface StatsBucket {
  start: Date;
  succeeded: number;
  failed: number;
}

/**
 * One endpoint's attempts since `since`, in buckets of `bucketMs` aligned on `since`; buckets without attempts
 * are left out. A success is an attempt answered 2xx; every other attempt (an error or status) is a failure.
 * Only messages with ids from `fromMessageId` on are read (ids are time-ordered), so the work is bounded by
 * the window and not by how long retention keeps an endpoint's messages.
 */
export async function endpointAttemptBuckets(
  db: Queryable,
  endpointId: string,
  since: Date,
  bucketMs: number,
  fromMessageId: string,
): Promise<StatsBucket[]> {
  const { rows } = await db.query<StatsBucket>(
    `select date_bin(make_interval(secs => $3::double precision / 1000), a.attempted_at, $2::timestamptz) as start,
            count(*) filter (where a.error is null and a.response_status between 200 and 299)::int as succeeded,
            count(*) filter (where a.error is not null or a.response_status not between 200 and 299
                               or a.response_status is null)::int as failed
       from messages m join attempts a on a.message_id = m.id
      where m.endpoint_id = $1 and m.id >= $4 and a.attempted_at >= $2
      group by 1 order by 1`,
    [endpointId, since, bucketMs, fromMessageId],
  );
  return rows;
}
