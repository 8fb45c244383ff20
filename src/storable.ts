// What Postgres can store: text holds no NUL character, and jsonb holds no NUL (`\u0000`), no unpaired UTF-16
// surrogate and no nesting deeper than its parser's stack. Whatever reaches the database from outside (a
// request body, a receiver's answer, a job's result, a handler's error message) passes through here first, so
// that recording an outcome cannot fail on the bytes it records (a refused write would otherwise leave the
// work to be done again, and again).

/** Only escapes can smuggle these characters into JSON text: raw NUL is invalid JSON, UTF-8 has no lone surrogates. */
const SUSPECT_ESCAPE = /\\u(0000|d[89a-f])/i;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Text as Postgres will take it: NUL characters dropped, unpaired surrogates replaced with U+FFFD. */
export function storableText(text: string): string {
  const wellFormed = text.isWellFormed() ? text : text.toWellFormed();
  return wellFormed.includes('\0') ? wellFormed.replaceAll('\0', '') : wellFormed;
}

/** `storableText` for nullable columns. */
export function storableTextOrNull(text: string | null | undefined): string | null {
  return text === null || text === undefined ? null : storableText(text);
}

/** Whether JSON text nests objects and arrays deeper than `limit`, found without parsing (so without recursion). */
export function exceedsDepth(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === BACKSLASH) i++;
      else if (code === QUOTE) inString = false;
    } else if (code === QUOTE) inString = true;
    else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      if (++depth > limit) return true;
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) depth--;
  }
  return false;
}

function storable(text: string): boolean {
  return !text.includes('\0') && text.isWellFormed();
}

/** Whether every string and key in a value parsed from `text` can be stored in jsonb (see SUSPECT_ESCAPE). */
export function jsonTextStorable(text: string, value: unknown): boolean {
  return !SUSPECT_ESCAPE.test(text) || allStorable(value);
}

function allStorable(value: unknown): boolean {
  if (typeof value === 'string') return storable(value);
  if (Array.isArray(value)) return value.every(allStorable);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).every(([key, item]) => storable(key) && allStorable(item));
  }
  return true;
}

/**
 * How deep a value we store may nest (a job's result): deeper than any real document, far below what Postgres's
 * parser takes (10,000 levels pass with the default max_stack_depth; 50,000 fail with "stack depth limit
 * exceeded").
 */
export const MAX_STORED_JSON_DEPTH = 1_000;

/** Why a value cannot be stored as jsonb, or undefined when it can. */
export function jsonRefusal(value: unknown, maxDepth = MAX_STORED_JSON_DEPTH): string | undefined {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    return error instanceof RangeError
      ? 'it is nested too deep to serialise'
      : `it cannot be serialised as JSON (${(error as Error).message})`;
  }
  if (text === undefined) return undefined; // stored as null
  if (exceedsDepth(text, maxDepth)) return `it is nested more than ${maxDepth} levels deep`;
  if (!jsonTextStorable(text, value))
    return 'it holds a NUL character (\\u0000) or an unpaired UTF-16 surrogate, which Postgres cannot store';
  return undefined;
}

/**
 * Whether a database error refused the data itself (SQLSTATE class 22, data exception, or 54001, stack depth
 * exceeded), as opposed to the database being unreachable or the statement being wrong: writing the same data
 * again would fail the same way.
 */
export function isDataRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code === '54001');
}
