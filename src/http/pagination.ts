// Cursor pagination shared by every list: `?limit=` (1–100, default 20) and `?cursor=` (the last id seen).
import { z } from 'zod';
import { type IdPrefix, idOf } from '../ids.ts';

/** The query of a list of objects of one kind: the cursor is the last id of the previous page. */
export function pageQuery(prefix: IdPrefix) {
  return z.object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: idOf(prefix).optional(),
  });
}

export function pageOf<T extends { id: string }>(schema: z.ZodType<T>) {
  return z.object({ data: z.array(schema), nextCursor: z.string().nullable() });
}

/** Lists fetch limit + 1 rows: the extra one only tells whether there is a next page. */
export function toPage<R extends { id: string }, T>(rows: R[], limit: number, view: (row: R) => T) {
  const page = rows.slice(0, limit);
  return { data: page.map(view), nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null };
}
