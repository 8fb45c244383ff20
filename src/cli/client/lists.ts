// Paging for list commands: one page (--limit, --cursor) or every page (--all), then a table or JSON.
import type { Command } from 'commander';
import { everyPage, type Query } from './api.ts';
import { type Column, printJson, printTable, say } from './output.ts';
import { countOption, type Session } from './session.ts';

export interface ListOptions {
  limit?: string;
  cursor?: string;
  all?: boolean;
}

export function withPaging(command: Command): Command {
  return command
    .option('--limit <n>', 'rows per page (1-100)', '20')
    .option('--cursor <cursor>', 'start from this page (the nextCursor of the previous one)')
    .option('--all', 'follow every page');
}

/**
 * Fetches one page or all of a list and prints it; with --json, the page object (or every row). `shown` is what
 * of each row may be printed (all of it unless the command says otherwise).
 */
export async function printList<T>(
  s: Session,
  path: string,
  query: Query,
  options: ListOptions,
  columns: Array<Column<T>>,
  shown: (row: T) => unknown = (row) => row,
): Promise<void> {
  if (options.all) {
    const rows: T[] = [];
    for await (const page of everyPage<T>(s.api, path, query)) rows.push(...page);
    if (s.json) printJson({ data: rows.map(shown), nextCursor: null });
    else printTable(rows, columns);
    return;
  }
  const page = await s.api.call<{ data: T[]; nextCursor: string | null }>('GET', path, {
    query: { ...query, limit: countOption('--limit', options.limit), cursor: options.cursor },
  });
  if (s.json) return printJson({ ...page, data: page.data.map(shown) });
  printTable(page.data, columns);
  if (page.nextCursor) say(`more: --cursor ${page.nextCursor} (or --all)`);
}
