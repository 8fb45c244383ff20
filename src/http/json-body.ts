// The JSON body parser: Fastify's own (with its prototype-poisoning guard), plus two refusals Postgres would
// otherwise turn into 500s after the request was accepted: nesting too deep to serialise, and text it cannot
// store (NUL characters and unpaired UTF-16 surrogates, both legal in JSON). And numbers too large for a double,
// which would be stored as null without a word.
import type { FastifyInstance } from 'fastify';
import { exceedsDepth, jsonTextStorable } from '../storable.ts';
import { HttpProblem } from './problem.ts';

/** Deeper than any real payload; far below what recursion in JSON.stringify or Postgres can take. */
export const MAX_JSON_DEPTH = 64;

/**
 * A number JavaScript reads as Infinity (`1e999`, or more than 308 digits) has an exponent of three digits or a
 * long run of digits: only bodies with one are searched for it.
 */
const MAY_OVERFLOW = /[eE][+]?\d{3}|\d{309}/;

function holdsNonFinite(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (typeof value !== 'object' || value === null) return false;
  return Object.values(value).some(holdsNonFinite);
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
      if (!error && MAY_OVERFLOW.test(text) && holdsNonFinite(value)) {
        done(
          new HttpProblem(
            400,
            'The JSON body holds a number too large to represent (it would be stored as null).',
          ),
          undefined,
        );
        return;
      }
      if (!error && !jsonTextStorable(text, value)) {
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
