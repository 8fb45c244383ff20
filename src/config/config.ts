// Reads the environment once, with zod, into the typed configuration every module receives.
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { parseDuration } from './duration.ts';

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration like 500ms, 15s, 2m, 1h or 5d' });
    return z.NEVER;
  }
  return ms;
});

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `expected a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const list = (text: string) =>
  text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');

const cidrList = z.string().transform((text, ctx) => {
  const cidrs = list(text);
  for (const cidr of cidrs) {
    if (!ipaddr.isValidCIDR(cidr))
      ctx.addIssue({ code: 'custom', message: `"${cidr}" is not a CIDR like 10.0.0.0/8` });
  }
  return cidrs;
});

const retrySchedule = z.string().transform((text, ctx) => {
  const delays = list(text).map((part) => ({ part, ms: parseDuration(part) }));
  const bad = delays.filter((delay) => delay.ms === undefined).map((delay) => `"${delay.part}"`);
  if (delays.length === 0 || bad.length > 0) {
    ctx.addIssue({
      code: 'custom',
      message: `expected comma-separated durations like 5s,30s,2m${bad.length ? `; not durations: ${bad.join(', ')}` : ''}`,
    });
    return z.NEVER;
  }
  return delays.map((delay) => delay.ms as number);
});

const postgresUrl = z.string().refine((text) => {
  try {
    return ['postgres:', 'postgresql:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}, 'expected a URL like postgres://user:password@host:5432/db');

/** Comma-separated base64 AES-256 keys (`openssl rand -base64 32`); the first seals, all open. */
const encryptionKeys = z.string().transform((text, ctx) => {
  const keys = list(text).map((part) => Buffer.from(part, 'base64'));
  if (keys.some((key) => key.length !== 32)) {
    ctx.addIssue({
      code: 'custom',
      message: 'each key must be the base64 of 32 random bytes (openssl rand -base64 32)',
    });
  }
  return keys;
});

const DEFAULT_RETRY_SCHEDULE = '5s,30s,2m,10m,30m,1h,3h,6h,12h,12h';

const environment = z.object({
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_POOL_SIZE: integer(2, 500).default(10),
  HOOKRELAY_DATA_DIR: z.string().min(1).default('./.hookrelay'),
  HOOKRELAY_TASKS_DIR: z.string().min(1).optional(),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: integer(0, 65535).default(3000),
  ADMIN_API_KEY: z.string().min(24, 'must be at least 24 characters, so it cannot be guessed').optional(),
  HOOKRELAY_ENCRYPTION_KEY: encryptionKeys.default([]),
  HOOKRELAY_ROLE: z.enum(['all', 'api', 'worker'], 'expected one of all, api, worker').default('all'),
  OUTBOUND_ALLOW_CIDRS: cidrList.default([]),
  DELIVERY_RETRY_SCHEDULE: retrySchedule.default(retrySchedule.parse(DEFAULT_RETRY_SCHEDULE)),
  DELIVERY_TIMEOUT: duration.default(15_000),
  ENDPOINT_DISABLE_AFTER: duration.default(5 * 86_400_000),
  BODY_LIMIT: integer(1024, 100 * 1024 * 1024).default(1024 * 1024),
  SHUTDOWN_TIMEOUT: duration.default(25_000),
  HTTP_HEADERS_TIMEOUT: duration.default(10_000).refine((ms) => ms >= 1_000, 'must be at least 1s'),
  HTTP_REQUEST_TIMEOUT: duration.default(30_000).refine((ms) => ms >= 1_000, 'must be at least 1s'),
  WORKER_CONCURRENCY: integer(1, 1000).default(100),
  DELIVERY_CONCURRENCY: integer(1, 1000).default(100),
  DELIVERY_ENDPOINT_CONCURRENCY: integer(1, 1000).default(25),
  // Leases are renewed every third of their span and given up half a second before their end (lease-keeper.ts):
  // shorter than 3 s, a renewal slowed by a busy database would cost the lease.
  JOB_HEARTBEAT: duration
    .default(30_000)
    .refine((ms) => ms >= 3_000, 'must be at least 3s (a running job renews its lease every third of it)'),
  DELIVERY_LEASE: duration
    .default(30_000)
    .refine((ms) => ms >= 3_000, 'must be at least 3s (a delivery renews its lease every third of it)'),
  JOB_RETRY_BASE: duration.default(1_000),
  JOB_RETRY_MAX: duration.default(300_000),
  TENANT_MAX_QUEUED_JOBS: integer(1, 10_000_000).default(10_000),
  TENANT_MAX_RUNNING_JOBS: integer(1, 1_000_000).optional(),
  TENANT_RATE_LIMIT: integer(1, 1_000_000).default(500),
  TENANT_MAX_SCHEDULES: integer(1, 1_000_000).default(1_000),
  // pg-boss's cron pass (one process at a time) runs this often; an occurrence's job is made within about this.
  SCHEDULE_CHECK_INTERVAL: duration
    .default(5_000)
    .refine(
      (ms) => ms >= 1_000 && ms <= 45_000 && ms % 1_000 === 0,
      'must be whole seconds from 1s to 45s (an occurrence stays due for a minute)',
    ),
  RETENTION: duration.default(30 * 86_400_000).refine((ms) => ms >= 60_000, 'must be at least 1m'),
  RETENTION_SWEEP_MINUTES: integer(1, 60).default(15),
  CIRCUIT_BREAKER_THRESHOLD: integer(1, 10_000).default(10),
  CIRCUIT_BREAKER_COOLDOWN: duration.default(30_000),
  LOG_LEVEL: z
    .enum(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      'expected a pino level: fatal, error, warn, info, debug, trace or silent',
    )
    .default('info'),
});

/** The environment as the rest of the code sees it: named for use, durations in milliseconds. */
const configSchema = environment.transform((e) => ({
  databaseUrl: e.DATABASE_URL,
  databasePoolSize: e.DATABASE_POOL_SIZE,
  dataDir: path.resolve(e.HOOKRELAY_DATA_DIR),
  /** A folder of task modules (src/jobs/tasks.ts), loaded at start. */
  tasksDir: e.HOOKRELAY_TASKS_DIR && path.resolve(e.HOOKRELAY_TASKS_DIR),
  host: e.HOST,
  port: e.PORT,
  adminApiKey: e.ADMIN_API_KEY,
  encryptionKeys: e.HOOKRELAY_ENCRYPTION_KEY,
  role: e.HOOKRELAY_ROLE,
  outboundAllowCidrs: e.OUTBOUND_ALLOW_CIDRS,
  deliveryRetryScheduleMs: e.DELIVERY_RETRY_SCHEDULE,
  deliveryTimeoutMs: e.DELIVERY_TIMEOUT,
  endpointDisableAfterMs: e.ENDPOINT_DISABLE_AFTER,
  bodyLimitBytes: e.BODY_LIMIT,
  shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
  /** A request's headers must have arrived within this, and its whole body within httpRequestTimeoutMs. */
  httpHeadersTimeoutMs: Math.min(e.HTTP_HEADERS_TIMEOUT, e.HTTP_REQUEST_TIMEOUT),
  httpRequestTimeoutMs: e.HTTP_REQUEST_TIMEOUT,
  workerConcurrency: e.WORKER_CONCURRENCY,
  deliveryConcurrency: e.DELIVERY_CONCURRENCY,
  deliveryEndpointConcurrency: e.DELIVERY_ENDPOINT_CONCURRENCY,
  jobHeartbeatMs: e.JOB_HEARTBEAT,
  deliveryLeaseMs: e.DELIVERY_LEASE,
  jobRetryBaseMs: e.JOB_RETRY_BASE,
  jobRetryMaxMs: e.JOB_RETRY_MAX,
  tenantMaxQueuedJobs: e.TENANT_MAX_QUEUED_JOBS,
  /** Jobs one tenant may have running at once, across every worker process; unset: no limit but fair shares. */
  tenantMaxRunningJobs: e.TENANT_MAX_RUNNING_JOBS,
  tenantRateLimitPerSecond: e.TENANT_RATE_LIMIT,
  tenantMaxSchedules: e.TENANT_MAX_SCHEDULES,
  scheduleCheckIntervalSeconds: e.SCHEDULE_CHECK_INTERVAL / 1_000,
  retentionMs: e.RETENTION,
  retentionSweepMinutes: e.RETENTION_SWEEP_MINUTES,
  circuitThreshold: e.CIRCUIT_BREAKER_THRESHOLD,
  circuitCooldownMs: e.CIRCUIT_BREAKER_COOLDOWN,
  logLevel: e.LOG_LEVEL,
}));

export type Config = z.infer<typeof configSchema>;

/** Every variable the service reads (the README's Configuration table lists each one: test/docs.test.ts). */
export const ENVIRONMENT_VARIABLES = Object.keys(environment.shape);

/** A configuration the operator has to fix; the message names every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; empty strings count as unset, as shells and compose files produce them. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      const got =
        typeof present[name] === 'string' && !/KEY|PASSWORD|SECRET|URL/.test(name)
          ? ` (got "${present[name]}")`
          : '';
      return `  ${name}: ${issue.message}${got}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
