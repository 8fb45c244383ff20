// The JSON body parser: Fastify's own (with its prototype-poisoning guard), plus two refusals Postgres would
// otherwise turn into 500s after the request was accepted: nesting too deep to serialise, and text it cannot
// store (NUL characters and unpaired UTF-16 surrogates, both legal in JSON).
import type { FastifyInstance } from 'fastify';
import { HttpProblem } from './problem.ts';

/** Deeper than any real payload; far below what recursion in JSON.stringify or Postgres can take. */
export const MAX_JSON_DEPTH = 64;

/** Only escapes can smuggle these characters in: raw NUL is invalid JSON, and UTF-8 has no lone surrogates. */
const SUSPECT_ESCAPE = /\\u(0000|d[89a-f])/i;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The deepest nesting of objects and arrays in JSON text, found without parsing it (so without recursion). */
function exceedsDepth(text: string, limit: number): boolean {
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

/** Whether every string and key in a parsed value can be stored as Postgres text and jsonb. */
function allStorable(value: unknown): boolean {
  if (typeof value === 'string') return storable(value);
  if (Array.isArray(value)) return value.every(allStorable);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).every(([key, item]) => storable(key) && allStorable(item));
  }
  return true;
}

export function registerJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (exceedsDepth(text, MAX_JSON_DEPTH)) {
      done(
        new HttpProblem(400, `The JSON body is nested more than ${MAX_JSON_DEPTH} levels deep.`),
        undefined,
      );
      return;
    }
    parse(request, text, (error, value) => {
      if (!error && SUSPECT_ESCAPE.test(text) && !allStorable(value)) {
        done(
          new HttpProblem(400, 'The JSON body contains a NUL character or an unpaired UTF-16 surrogate.'),
          undefined,
        );
        return;
      }
      done(error, value);
    });
  });
}
