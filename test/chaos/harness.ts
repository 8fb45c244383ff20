// What the chaos scenarios add to the harness (harness/: service processes, receivers, databases, load): the
// database's own account of what happened, and the verdict.
import type pg from 'pg';
import type { Receiver } from '../../harness/receiver.ts';

/** A scenario's verdict: its figures, and each broken promise in words (none: it passed). */
export interface Outcome {
  figures: Record<string, number | string>;
  broken: string[];
}

export function check(broken: string[], ok: boolean, promise: string): void {
  if (!ok) broken.push(promise);
}

/** Delivered, pending and dead messages, from the database. */
export async function messageCounts(db: pg.Pool) {
  const { rows } = await db.query<{ status: string; n: number }>(
    'select status, count(*)::int as n from messages group by status',
  );
  const by = Object.fromEntries(rows.map((row) => [row.status, row.n]));
  return { delivered: by.delivered ?? 0, pending: by.pending ?? 0, dead: by.dead ?? 0 };
}

/** The receiver's view against the database's (of one endpoint's messages, or all): every message arrived,
 * and what arrived twice. */
export async function deliveryAudit(db: pg.Pool, received: Receiver, endpointId?: string) {
  const { rows } = await db.query<{ id: string }>(
    'select id from messages where $1::text is null or endpoint_id = $1',
    [endpointId ?? null],
  );
  const ids = new Set(rows.map((row) => row.id));
  const missing = rows.filter((row) => !received.arrivals.has(row.id)).length;
  const unknown = [...received.arrivals.keys()].filter((id) => !ids.has(id)).length;
  let duplicates = 0;
  for (const times of received.arrivals.values()) duplicates += times.length - 1;
  return { messages: rows.length, missing, unknown, duplicates };
}
