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

/** Compiles a schema, or says why it cannot be (for a 400 at registration). */
export function compileInputSchema(
  schema: Record<string, unknown>,
): { validate: ValidateFunction } | { error: string } {
  try {
    // A fresh instance per registration: Ajv keeps compiled schemas by $id, and a tenant's $id must not clash
    // with another's.
    return { validate: newAjv().compile(schema) };
  } catch (error) {
    return { error: (error as Error).message.slice(0, 500) };
  }
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
      if (!validate || validate(input)) return [];
      return fieldErrors(validate.errors);
    },
  };
}

export function createTenantTypes(pool: Pool): TenantTypes {
  const validators = new LRUCache<string, ValidateFunction>({ max: 1_000 });
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
