// The JSON body parser: Fastify's own (with its prototype-poisoning guard), plus two refusals Postgres would
// otherwise turn into 500s after the request was accepted: nesting too deep to serialise, and text it cannot
// store (NUL characters and unpaired UTF-16 surrogates, both legal in JSON).
import type { FastifyInstance } from 'fastify';
import { exceedsDepth, jsonTextStorable } from '../storable.ts';
import { HttpProblem } from './problem.ts';

/** Deeper than any real payload; far below what recursion in JSON.stringify or Postgres can take. */
export const MAX_JSON_DEPTH = 64;

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
