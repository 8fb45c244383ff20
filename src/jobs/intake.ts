// Accepting a job: validate it against its type, then write the job row (which is also its queue entry) and
// its idempotency key in one transaction.
import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';
import type { Needs } from '../context.ts';
import {
  type FieldError,
  IdempotencyKeyReused,
  InvalidRequest,
  QuotaExceeded,
  Unprocessable,
} from '../errors.ts';
import { newId } from '../ids.ts';
import {
  type AcceptedJob,
  claimIdempotencyKey,
  findIdempotencyKey,
  getJob,
  insertJob,
  type JobExecution,
  type NewJob,
} from '../store/jobs.ts';
import { withTransaction } from '../store/transaction.ts';

const MAX_RUN_AT_AHEAD_MS = 365 * 86_400_000;

/** A job as a client asks for it (validated for shape by the API's schema, src/http/routes/jobs.ts). */
export interface JobSubmission {
  type: string;
  input: unknown;
  callbackUrl?: string;
  endpointId?: string;
  timeoutSeconds?: number;
  maxAttempts?: number;
  priority?: number;
  orderingKey?: string;
  /** ISO 8601 with an offset. */
  runAt?: string;
  metadata?: Record<string, unknown>;
}

/** `replayed`: an earlier request with the same Idempotency-Key and body created this job. */
export interface Submitted {
  /** The job as intake answers it (a replay reads the whole row, which has these too). */
  job: AcceptedJob;
  replayed: boolean;
}

class IdempotencyRace extends Error {}

/** What intake needs of a job type, whichever kind it is. */
interface IntakeType {
  execution: JobExecution;
  timeoutSeconds: number;
  heartbeatSeconds: number | null;
  /** The input's problems as field errors; none when it is valid. */
  check(input: unknown): FieldError[];
  /** URLs the job will call, each to pass the outbound policy (after `check` found the input valid). */
  outboundUrls(): string[];
}

/** A built-in or task type (every tenant's), else the tenant's own; 422 when neither. */
async function resolveType(
  ctx: Needs<'jobTypes' | 'tenantTypes'>,
  tenantId: string,
  name: string,
): Promise<IntakeType> {
  const handler = ctx.jobTypes.find(name);
  if (handler) {
    let urls: string[] = [];
    return {
      execution: ctx.jobTypes.isBuiltIn(name) ? 'builtin' : 'task',
      timeoutSeconds: handler.defaultTimeoutSeconds,
      heartbeatSeconds: null,
      check(input) {
        const parsed = handler.input.safeParse(input);
        if (parsed.success) {
          urls = handler.outboundUrls?.(parsed.data) ?? [];
          return [];
        }
        return parsed.error.issues.map((issue) => ({
          path: ['body', 'input', ...issue.path.map(String)].join('.'),
          message: issue.message,
        }));
      },
      // From the parse `check` made (intake calls it first): one parse per submission.
      outboundUrls: () => urls,
    };
  }
  const own = await ctx.tenantTypes.find(tenantId, name);
  if (!own) {
    throw new Unprocessable(
      `Unknown job type "${name}"; known types: ${ctx.jobTypes.names().join(', ')}, and this tenant's own ` +
        '(GET /v1/job-types).',
    );
  }
  return {
    execution: own.row.execution,
    timeoutSeconds: own.row.timeout_seconds,
    heartbeatSeconds: own.row.heartbeat_seconds,
    check: own.check,
    outboundUrls: () => [],
  };
}

/**
 * Checks a submission as POST /v1/jobs does (its type, its input against the type's schema, the URLs it names,
 * its endpoint) and answers the job to write. `inputPath` is where the input sits in the request, for the
 * field errors. Throws the refusal (400 or 422) when the job would not be accepted.
 */
export async function prepareJob(
  ctx: Needs<'intake' | 'jobTypes' | 'outbound' | 'tenantTypes'>,
  tenantId: string,
  body: JobSubmission,
  options: { inputPath?: string; scheduleId?: string } = {},
): Promise<NewJob> {
  const type = await resolveType(ctx, tenantId, body.type);
  const errors = type.check(body.input);
  if (errors.length > 0) {
    const prefix = options.inputPath ?? 'body';
    throw new InvalidRequest(
      `The input is not valid for job type "${body.type}".`,
      prefix === 'body'
        ? errors
        : errors.map((error) => ({ ...error, path: error.path.replace(/^body/, prefix) })),
    );
  }
  for (const url of type.outboundUrls()) {
    const refused = await ctx.outbound.check(new URL(url));
    if (refused) throw new Unprocessable(`The job's URL is not allowed: ${refused}.`);
  }
  if (body.endpointId !== undefined && !(await ctx.intake.knownEndpoints.has(tenantId, body.endpointId))) {
    throw new Unprocessable(`No endpoint ${body.endpointId}.`);
  }
  if (body.callbackUrl !== undefined) {
    const refused = await ctx.outbound.check(new URL(body.callbackUrl));
    if (refused) throw new Unprocessable(`The callbackUrl is not allowed: ${refused}.`);
  }
  const runAt = body.runAt === undefined ? null : new Date(body.runAt);
  if (runAt && runAt.getTime() - Date.now() > MAX_RUN_AT_AHEAD_MS) {
    throw new InvalidRequest('runAt may be at most 365 days ahead.', [
      { path: 'body.runAt', message: 'at most 365 days ahead' },
    ]);
  }
  return {
    id: newId('job'),
    tenantId,
    type: body.type,
    // As sent: each attempt parses it again, so a schema's transforms and defaults reach the handler every time.
    input: body.input,
    callbackUrl: body.callbackUrl ?? null,
    endpointId: body.endpointId ?? null,
    timeoutSeconds: body.timeoutSeconds ?? type.timeoutSeconds,
    maxAttempts: body.maxAttempts ?? 3,
    priority: body.priority ?? 0,
    orderingKey: body.orderingKey ?? null,
    runAt,
    metadata: body.metadata ?? {},
    execution: type.execution,
    heartbeatSeconds: type.heartbeatSeconds,
    scheduleId: options.scheduleId ?? null,
  };
}

/** 429 while the tenant has as many queued jobs as it may. */
export async function admitJob(ctx: Needs<'config' | 'intake'>, tenantId: string): Promise<void> {
  if (!(await ctx.intake.queueDepth.admit(tenantId))) {
    throw new QuotaExceeded(
      `This tenant already has ${ctx.config.tenantMaxQueuedJobs} queued jobs, the most allowed; retry later.`,
      5,
    );
  }
}

export async function submitJob(
  ctx: Needs<'config' | 'intake' | 'jobTypes' | 'outbound' | 'pool' | 'tenantTypes'>,
  tenantId: string,
  body: JobSubmission,
  idempotencyKey: string | undefined,
): Promise<Submitted> {
  const job = await prepareJob(ctx, tenantId, body);
  const requestHash =
    idempotencyKey === undefined ? undefined : createHash('sha256').update(stringify(body)).digest();
  if (idempotencyKey !== undefined && requestHash) {
    const earlier = await replayOf(ctx, tenantId, idempotencyKey, requestHash);
    if (earlier) return earlier;
  }

  await admitJob(ctx, tenantId);
  if (idempotencyKey === undefined || !requestHash)
    return { job: await ctx.intake.write(job), replayed: false };
  try {
    const row = await withTransaction(ctx.pool, async (tx) => {
      const inserted = await insertJob(tx, job);
      const claimed = await claimIdempotencyKey(tx, {
        tenantId,
        key: idempotencyKey,
        requestHash,
        jobId: job.id,
      });
      // Another request with this key committed first: undo ours and answer as that one did.
      if (!claimed) throw new IdempotencyRace();
      return inserted;
    });
    return { job: row, replayed: false };
  } catch (error) {
    if (!(error instanceof IdempotencyRace)) throw error;
    const earlier = await replayOf(ctx, tenantId, idempotencyKey, requestHash);
    if (!earlier) throw error;
    return earlier;
  }
}

async function replayOf(
  ctx: Needs<'pool'>,
  tenantId: string,
  key: string,
  requestHash: Buffer,
): Promise<Submitted | undefined> {
  const record = await findIdempotencyKey(ctx.pool, tenantId, key);
  if (!record) return undefined;
  if (!record.request_hash.equals(requestHash)) {
    throw new IdempotencyKeyReused();
  }
  const job = await getJob(ctx.pool, tenantId, record.job_id);
  return job && { job, replayed: true };
}
