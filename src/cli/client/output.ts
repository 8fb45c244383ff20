// How the client commands print: tables and key/value blocks for people, JSON (--json) for scripts, and
// problems as their title and detail on stderr with a non-zero exit.
import Table from 'cli-table3';
import { ApiError, UnreachableError } from './api.ts';

export type Column<T> = [header: string, cell: (row: T) => unknown];

const tty = process.stdout.isTTY === true;

/**
 * Control characters (C0 but tab and newline, DEL, C1), line and paragraph separators and bidirectional overrides.
 * What the command prints for people comes partly from others (a tenant's callback URL, a receiver's response,
 * a webhook's body): raw, `ESC ]` or `ESC [2J` would be commands to the operator's terminal.
 */
const UNPRINTABLE = /[\p{Cc}\p{Zl}\p{Zp}\u202a-\u202e\u2066-\u2069]/gu;

/** The text with every such character written as a visible `\u001b`-style escape. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) =>
    c === '\t' || c === '\n' ? c : `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}

function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  return printable(typeof value === 'object' ? JSON.stringify(value) : String(value));
}

/** Shortens a cell for a table (full values are in --json and `show`). */
export function excerpt(value: unknown, max = 60): string {
  const whole = text(value).replace(/\s+/g, ' ');
  return whole.length > max ? `${whole.slice(0, max - 1)}…` : whole;
}

function table(head?: string[]) {
  // Colour only on a terminal, so piped output stays plain text.
  return new Table({ ...(head && { head }), style: tty ? {} : { head: [], border: [] } });
}

/**
 * JSON as the command prints it. JSON.stringify escapes C0 controls in strings but leaves DEL, C1, the line
 * separators and bidirectional controls raw; `printable` writes those as `\u` escapes too, which is still the
 * same JSON to a parser and nothing a terminal acts on.
 */
export function jsonText(value: unknown, indent?: number): string {
  return printable(JSON.stringify(value, null, indent));
}

export function printJson(value: unknown): void {
  process.stdout.write(`${jsonText(value, 2)}\n`);
}

export function printTable<T>(rows: T[], columns: Array<Column<T>>, empty = 'nothing to show'): void {
  if (rows.length === 0) {
    process.stdout.write(`${printable(empty)}\n`);
    return;
  }
  const out = table(columns.map(([header]) => header));
  for (const row of rows) out.push(columns.map(([, cell]) => text(cell(row))));
  process.stdout.write(`${out.toString()}\n`);
}

/** One object as a two-column block; nested values are shown as JSON, wrapped to the terminal. */
export function printRecord(record: object): void {
  const names = Object.keys(record);
  const nameWidth = Math.max(...names.map((name) => name.length)) + 2;
  const valueWidth = Math.max(40, Math.min(100, (process.stdout.columns ?? 120) - nameWidth - 3));
  const out = new Table({
    colWidths: [nameWidth, valueWidth],
    wordWrap: true,
    wrapOnWordBoundary: false,
    style: tty ? {} : { head: [], border: [] },
  });
  for (const [name, value] of Object.entries(record)) out.push({ [name]: text(value) });
  process.stdout.write(`${out.toString()}\n`);
}

export function say(line: string): void {
  process.stderr.write(`${printable(line)}\n`);
}

/** Prints what went wrong and exits 1: the problem's title and detail, and each field error. */
export function fail(error: unknown): never {
  if (error instanceof ApiError) {
    const { title, status, detail, errors } = error.problem;
    say(`hookrelay: ${title} (${status})${detail ? `: ${detail}` : ''}`);
    for (const field of errors ?? []) say(`  ${field.path || '(body)'}: ${field.message}`);
  } else if (error instanceof UnreachableError || error instanceof UsageError) {
    say(`hookrelay: ${error.message}`);
  } else {
    say(`hookrelay: unexpected error\n${error instanceof Error ? error.stack : String(error)}`);
  }
  process.exit(1);
}

/** A mistake in the command line that commander's own checks cannot see (bad JSON in --input, say). */
export class UsageError extends Error {}
