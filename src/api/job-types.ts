// What the API does with job types: list the global ones (built-in, task modules) beside the tenant's own, and
// register, show and delete the tenant's remote and push types.
import type { Needs } from '../context.ts';
import { Conflict, InvalidRequest, NotFound, Unprocessable } from '../errors.ts';
import { compileInputSchema } from '../jobs/tenant-types.ts';
import {
  countJobTypes,
  deleteJobType,
  getJobType,
  type JobTypeRow,
  jobTypeInUse,
  listJobTypes,
  lockJobType,
  putJobType,
} from '../store/job-types.ts';
import { withTransaction } from '../store/transaction.ts';

export const DEFAULT_TIMEOUT_SECONDS = 3600;
export const DEFAULT_HEARTBEAT_SECONDS = 30;
/** Each type's schema is compiled and kept by every process that takes its jobs: a bound on what one tenant holds. */
export const MAX_TYPES_PER_TENANT = 100;

export interface JobTypeView {
  name: string;
  execution: 'builtin' | 'task' | 'remote' | 'push';
  inputSchema: Record<string, unknown>;
  timeoutSeconds: number;
  heartbeatSeconds: number | null;
  url?: string;
  description: string | null;
  createdAt: string | null;
  updatedAt: string | null;
}

export interface JobTypeRegistration {
  execution: 'remote' | 'push';
  url?: string;
  inputSchema?: Record<string, unknown>;
  timeoutSeconds?: number;
  heartbeatSeconds?: number;
  description?: string;
}

class JobTypeNotFound extends NotFound {
  constructor(name: string) {
    super(`No job type ${name}.`);
  }
}

function viewOwn(row: JobTypeRow): JobTypeView {
  return {
    name: row.name,
    execution: row.execution,
    // Any input is taken when none was given: the empty schema says so.
    inputSchema: row.input_schema ?? {},
    timeoutSeconds: row.timeout_seconds,
    heartbeatSeconds: row.heartbeat_seconds,
    ...(row.url !== null && { url: row.url }),
    description: row.description,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function globalViews(ctx: Needs<'jobTypes'>): JobTypeView[] {
  return ctx.jobTypes.list().map((type) => ({
    ...type,
    heartbeatSeconds: null,
    description: null,
    createdAt: null,
    updatedAt: null,
  }));
}

export async function list(ctx: Needs<'jobTypes' | 'pool'>, tenantId: string): Promise<JobTypeView[]> {
  return [...globalViews(ctx), ...(await listJobTypes(ctx.pool, tenantId)).map(viewOwn)];
}

export async function show(
  ctx: Needs<'jobTypes' | 'pool'>,
  tenantId: string,
  name: string,
): Promise<JobTypeView> {
  const global = globalViews(ctx).find((type) => type.name === name);
  if (global) return global;
  const row = await getJobType(ctx.pool, tenantId, name);
  if (!row) throw new JobTypeNotFound(name);
  return viewOwn(row);
}

/** Registers or replaces a tenant's type; `created` is false for a replacement. */
export async function put(
  ctx: Needs<'jobTypes' | 'outbound' | 'pool' | 'tenantTypes'>,
  tenantId: string,
  name: string,
  registration: JobTypeRegistration,
): Promise<{ type: JobTypeView; created: boolean }> {
  if (ctx.jobTypes.find(name)) {
    throw new Conflict(
      `"${name}" is a ${ctx.jobTypes.isBuiltIn(name) ? 'built-in' : 'task module'} job type.`,
    );
  }
  const push = registration.execution === 'push';
  if (push !== (registration.url !== undefined)) {
    throw new InvalidRequest(
      push ? 'A push type needs the url its attempts are POSTed to.' : 'Only push types have a url.',
      [
        {
          path: 'body.url',
          message: push ? 'is required for execution "push"' : 'is only for execution "push"',
        },
      ],
    );
  }
  if (registration.url !== undefined) {
    const refused = await ctx.outbound.check(new URL(registration.url));
    if (refused) throw new Unprocessable(`The url is not allowed: ${refused}.`);
  }
  if (registration.inputSchema !== undefined) {
    const compiled = compileInputSchema(registration.inputSchema);
    if ('error' in compiled) {
      throw new InvalidRequest('The inputSchema is not a valid JSON Schema (draft 2020-12).', [
        { path: 'body.inputSchema', message: compiled.error },
      ]);
    }
  }
  const result = await withTransaction(ctx.pool, async (tx) => {
    const before = await lockJobType(tx, tenantId, name);
    // Jobs already queued were written for how the type ran then (claimed by workers, or POSTed).
    if (before && before.execution !== registration.execution && (await jobTypeInUse(tx, tenantId, name))) {
      throw new Conflict(
        `"${name}" has queued or running jobs as a ${before.execution} type; its execution cannot change until they end.`,
      );
    }
    if (!before && (await countJobTypes(tx, tenantId)) >= MAX_TYPES_PER_TENANT) {
      throw new Unprocessable(
        `This tenant has ${MAX_TYPES_PER_TENANT} job types, the most allowed; delete one first.`,
      );
    }
    return putJobType(tx, tenantId, name, {
      execution: registration.execution,
      url: registration.url ?? null,
      input_schema: registration.inputSchema ?? null,
      timeout_seconds: registration.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
      heartbeat_seconds: registration.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS,
      description: registration.description ?? null,
    });
  });
  ctx.tenantTypes.forget(tenantId, name);
  return { type: viewOwn(result.row), created: result.created };
}

export async function remove(
  ctx: Needs<'jobTypes' | 'pool' | 'tenantTypes'>,
  tenantId: string,
  name: string,
): Promise<void> {
  if (ctx.jobTypes.find(name)) {
    throw new Conflict(
      `"${name}" is a ${ctx.jobTypes.isBuiltIn(name) ? 'built-in' : 'task module'} job type.`,
    );
  }
  await withTransaction(ctx.pool, async (tx) => {
    if (!(await lockJobType(tx, tenantId, name))) throw new JobTypeNotFound(name);
    if (await jobTypeInUse(tx, tenantId, name)) {
      throw new Conflict(`"${name}" has queued or running jobs; delete it once they have ended.`);
    }
    await deleteJobType(tx, tenantId, name);
  });
  ctx.tenantTypes.forget(tenantId, name);
}
