// A tenant's own job types (remote and push) as intake and push attempts use them: read from the database and
// remembered for a few seconds per process, each with its input's JSON Schema compiled once by Ajv (the
// validator Fastify itself is built on). A change made by another process is seen within those seconds.
//
// A tenant writes these schemas, and their `pattern`s run on every submission in the API process: with
// JavaScript's backtracking engine, `^(a+)+$` against a long input would hold the event loop for every tenant.
// They run on RE2's linear-time engine instead (re2js); a pattern it cannot take (a backreference, a lookahead)
// is refused at registration.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { RegExpEngine } from 'ajv/dist/types/index.js';
import addFormatsModule from 'ajv-formats';
import { LRUCache } from 'lru-cache';
import { RE2JS } from 're2js';
import type { FieldError } from '../errors.ts';
import { getJobType, type JobTypeRow } from '../store/job-types.ts';
import type { Pool } from '../store/pool.ts';

const REMEMBER_MS = 5_000;

// ajv-formats is CommonJS whose default export is the function itself.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

export interface TenantType {
  row: JobTypeRow;
  /** The input's problems, as field errors under `body.input`; none when it is valid. */
  check(input: unknown): FieldError[];
}

export interface TenantTypes {
  find(tenantId: string, name: string): Promise<TenantType | undefined>;
  /** Drops what this process remembers of a type it just changed, so its next request sees the change. */
  forget(tenantId: string, name: string): void;
}

/** JSON Schema's ECMA-262 patterns, matched anywhere in the string as `RegExp.test` does, in linear time. */
const linearRegExp: RegExpEngine = Object.assign(
  (pattern: string) => RE2JS.compile(RE2JS.translateRegExp(pattern)),
  { code: 'RE2JS' },
);

/** A validator for schemas of any draft-2020-12 vocabulary, formats included; unknown keywords ignored. */
function newAjv(): Ajv2020 {
  return addFormats(
    new Ajv2020({ allErrors: true, strict: false, validateSchema: true, code: { regExp: linearRegExp } }),
  );
}

/**
 * What a tenant's schema may ask for. Its size bounds the time compiling takes (on the request path, once per
 * version of the type and process); `uniqueItems` compares every pair of items, so it is taken only with a
 * `maxItems` small enough for that to stay cheap.
 */
export const SCHEMA_LIMITS = { maxBytes: 32 * 1024, uniqueItemsMaxItems: 100 };

/** Where a schema asks for `uniqueItems` without a small enough `maxItems` beside it, if anywhere. */
function unboundedUniqueItems(node: unknown, path: string): string | undefined {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) {
      const found = unboundedUniqueItems(item, `${path}/${i}`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof node !== 'object' || node === null) return undefined;
  const schema = node as Record<string, unknown>;
  if (
    schema.uniqueItems === true &&
    !(typeof schema.maxItems === 'number' && schema.maxItems <= SCHEMA_LIMITS.uniqueItemsMaxItems)
  ) {
    return path || '/';
  }
  for (const [key, value] of Object.entries(schema)) {
    const found = unboundedUniqueItems(value, `${path}/${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** A schema that refers to itself with nothing consumed on the way (`{"$ref": "#"}`) never ends validating. */
const SAMPLES: unknown[] = [null, true, 0, '', [], {}, [{}], { a: {} }];

/** Compiles a schema, or says why it cannot be (for a 400 at registration). */
export function compileInputSchema(
  schema: Record<string, unknown>,
): { validate: ValidateFunction } | { error: string } {
  if (JSON.stringify(schema).length > SCHEMA_LIMITS.maxBytes) {
    return { error: `a schema may be at most ${SCHEMA_LIMITS.maxBytes} bytes of JSON` };
  }
  const unique = unboundedUniqueItems(schema, '');
  if (unique !== undefined) {
    return {
      error: `uniqueItems at ${unique} needs maxItems of at most ${SCHEMA_LIMITS.uniqueItemsMaxItems} beside it`,
    };
  }
  let validate: ValidateFunction;
  try {
    // A fresh instance per registration: Ajv keeps compiled schemas by $id, and a tenant's $id must not clash
    // with another's.
    validate = newAjv().compile(schema);
  } catch (error) {
    return { error: describe(error) };
  }
  try {
    for (const sample of SAMPLES) validate(sample);
  } catch (error) {
    return { error: describe(error) };
  }
  return { validate };
}

/** Ajv's message, or a sentence for the recursion that a self-referring schema runs into. */
function describe(error: unknown): string {
  if (error instanceof RangeError)
    return 'the schema refers to itself without end ($ref or $dynamicRef loop)';
  return (error as Error).message.slice(0, 500);
}

function fieldErrors(errors: ErrorObject[] | null | undefined): FieldError[] {
  return (errors ?? []).slice(0, 20).map((error) => ({
    path: ['body', 'input', ...error.instancePath.split('/').filter(Boolean)].join('.'),
    message: error.message ?? 'is invalid',
  }));
}

function typeOf(row: JobTypeRow, validators: LRUCache<string, ValidateFunction>): TenantType {
  // Compiled once per version of the type, not each time the row is read again.
  const version = `${row.tenant_id}/${row.name}/${row.updated_at.getTime()}`;
  let validate = validators.get(version);
  if (!validate && row.input_schema) {
    const compiled = compileInputSchema(row.input_schema);
    // Checked at registration; a schema that no longer compiles (a newer Ajv) takes any input rather than none.
    if ('validate' in compiled) {
      validate = compiled.validate;
      validators.set(version, validate);
    }
  }
  return {
    row,
    check(input) {
      if (!validate) return [];
      try {
        if (validate(input)) return [];
      } catch (error) {
        // A loop the samples at registration did not reach (one that only some inputs enter).
        if (!(error instanceof RangeError)) throw error;
        return [{ path: 'body.input', message: describe(error) }];
      }
      return fieldErrors(validate.errors);
    },
  };
}

export function createTenantTypes(pool: Pool): TenantTypes {
  // Each holds the code Ajv generated for a schema of up to SCHEMA_LIMITS.maxBytes.
  const validators = new LRUCache<string, ValidateFunction>({ max: 500 });
  const cache = new LRUCache<string, { type: TenantType | null }, { tenantId: string; name: string }>({
    max: 10_000,
    ttl: REMEMBER_MS,
    fetchMethod: async (_key, _stale, { context }) => {
      const row = await getJobType(pool, context.tenantId, context.name);
      return { type: row ? typeOf(row, validators) : null };
    },
  });
  return {
    async find(tenantId, name) {
      const found = await cache.fetch(`${tenantId}/${name}`, { context: { tenantId, name } });
      return found?.type ?? undefined;
    },
    forget(tenantId, name) {
      cache.delete(`${tenantId}/${name}`);
    },
  };
}
