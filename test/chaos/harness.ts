// What the chaos scenarios share: real service processes on a real Postgres, a counting receiver, load
// generators and the database's own account of what happened. Loopback only; everything started is stopped.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { Pool } from 'undici';

const CLI = path.resolve(import.meta.dirname, '..', '..', 'src', 'cli', 'hookrelay.ts');
export const ADMIN_KEY = `chaos-operator-${randomBytes(12).toString('hex')}`;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A scenario's verdict: its figures, and each broken promise in words (none: it passed). */
export interface Outcome {
  figures: Record<string, number | string>;
  broken: string[];
}

export function check(broken: string[], ok: boolean, promise: string): void {
  if (!ok) broken.push(promise);
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `test` until it holds. A test that throws (the database restarting, say) counts as not yet. */
export async function waitFor(
  what: string,
  test: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 200,
) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await test()) return;
    } catch (error) {
      last = error;
    }
    await sleep(everyMs);
  }
  throw new Error(
    `gave up after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (${(last as Error).message})` : ''}`,
  );
}

export interface Service {
  name: string;
  child: ChildProcess;
  base: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Lines the service logged at error level or above. */
  errors: string[];
  alive(): boolean;
  rssMiB(): number;
  stop(): Promise<void>;
}

const running = new Set<Service>();

/** Starts `hookrelay serve` and waits for /readyz. Logs at warn: only problems are kept. */
export async function startService(name: string, env: Record<string, string>): Promise<Service> {
  const port = await freePort();
  // The service as `npm start` runs it (see README, Memory).
  const child = spawn(
    process.execPath,
    ['--max-semi-space-size=4', '--max-old-space-size=1024', CLI, 'serve'],
    {
      env: {
        PATH: process.env.PATH ?? '',
        PORT: String(port),
        ADMIN_API_KEY: ADMIN_KEY,
        OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
        LOG_LEVEL: 'warn',
        // The load generators submit as one tenant, faster than the default per-tenant limit would admit.
        TENANT_RATE_LIMIT: '1000000',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const errors: string[] = [];
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (/"level":(50|60)/.test(line)) errors.push(line.slice(0, 500));
  });
  child.stderr?.on('data', (chunk: Buffer) => errors.push(chunk.toString().slice(0, 4000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  const service: Service = {
    name,
    child,
    base: `http://127.0.0.1:${port}`,
    exited,
    errors,
    alive,
    rssMiB() {
      try {
        const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
        return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
      } catch {
        return 0;
      }
    },
    async stop() {
      if (alive()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
      running.delete(service);
    },
  };
  running.add(service);
  const ready = waitFor(
    `${name} to be ready`,
    async () => (await fetch(`${service.base}/readyz`))?.status === 200,
    60_000,
    100,
  );
  await Promise.race([
    ready,
    exited.then(() => {
      throw new Error(`${name} exited while starting: ${errors.join(' ')}`);
    }),
  ]);
  return service;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((service) => service.stop()));
}

/** Kills a service without warning, as a crash or the OOM killer would. */
export async function kill(service: Service): Promise<void> {
  service.child.kill('SIGKILL');
  await service.exited;
  running.delete(service);
}

export interface Receiver {
  url: string;
  port: number;
  /** Arrival times (ms) per webhook-id; more than one is a duplicate. */
  arrivals: Map<string, number[]>;
  /** First arrival per job id (x-job-id), for latency from submission. */
  firstByJob: Map<string, number>;
  requests: number;
  /** How to answer: a status, or `hang` (never answer), after `delayMs`. */
  answer: { status: number | 'hang'; delayMs: number };
  /** Stops accepting connections (they are refused) until `start` again, on the same port. */
  refuse(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

const receivers = new Set<Receiver>();

export async function receiver(answer: Receiver['answer'] = { status: 200, delayMs: 0 }): Promise<Receiver> {
  const port = await freePort();
  const arrivals = new Map<string, number[]>();
  const firstByJob = new Map<string, number>();
  let server: http.Server | undefined;
  const self: Receiver = {
    url: `http://127.0.0.1:${port}`,
    port,
    arrivals,
    firstByJob,
    requests: 0,
    answer,
    async refuse() {
      const closing = server;
      server = undefined;
      if (!closing) return;
      closing.closeAllConnections();
      await new Promise((resolve) => closing.close(resolve));
    },
    async start() {
      const created = http.createServer((request, response) => {
        request.resume();
        request.on('end', () => {
          const now = Date.now();
          self.requests++;
          const id = String(request.headers['webhook-id']);
          arrivals.set(id, [...(arrivals.get(id) ?? []), now]);
          const job = String(request.headers['x-job-id']);
          if (!firstByJob.has(job)) firstByJob.set(job, now);
          const { status, delayMs } = self.answer;
          if (status === 'hang') return;
          setTimeout(() => response.writeHead(status).end(), delayMs);
        });
      });
      created.keepAliveTimeout = 30_000;
      await new Promise<void>((resolve) => created.listen(port, '127.0.0.1', resolve));
      server = created;
    },
    async close() {
      await self.refuse();
      receivers.delete(self);
    },
  };
  await self.start();
  receivers.add(self);
  return self;
}

export async function closeReceivers(): Promise<void> {
  await Promise.all([...receivers].map((r) => r.close()));
}

/** A JSON client for one service with a keep-alive connection pool (the load generator). */
export function api(base: string, key: string, connections = 32) {
  const pool = new Pool(base, { connections, pipelining: 1 });
  async function call<T = Record<string, unknown>>(method: string, route: string, body?: unknown) {
    const response = await pool.request({
      method: method as 'GET',
      path: route,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.body.text();
    return { status: response.statusCode, body: (text ? JSON.parse(text) : undefined) as T };
  }
  return { call, close: () => pool.close() };
}
export type Api = ReturnType<typeof api>;

/** A tenant with one endpoint per receiver, made through the API. */
export async function tenantWithEndpoints(
  base: string,
  receiverList: Array<Pick<Receiver, 'url'>>,
  endpointBody: Record<string, unknown> = {},
) {
  const admin = api(base, ADMIN_KEY, 1);
  const tenant = (
    await admin.call<{ id: string; apiKey: string }>('POST', '/v1/admin/tenants', { name: 'chaos' })
  ).body;
  await admin.close();
  const client = api(base, tenant.apiKey);
  const endpoints: string[] = [];
  for (const r of receiverList) {
    const created = await client.call<{ id: string }>('POST', '/v1/endpoints', {
      url: `${r.url}/hook`,
      ...endpointBody,
    });
    if (created.status !== 201)
      throw new Error(`endpoint not created: ${created.status} ${JSON.stringify(created.body)}`);
    endpoints.push(created.body.id);
  }
  await client.close();
  return { tenantId: tenant.id, key: tenant.apiKey, endpoints };
}

export interface Submitted {
  /** Accepted jobs: id → when it was submitted (ms). */
  accepted: Map<string, number>;
  /** Refusals and failures by status (0: no answer at all). */
  refused: Map<number, number>;
}

function record(into: Submitted, at: number, result: { status: number; body: { id?: string } } | undefined) {
  if (result && result.status === 202 && result.body.id) into.accepted.set(result.body.id, at);
  else if (result && result.status >= 500 && result.status !== 503)
    console.log(`  a ${result.status}: ${JSON.stringify(result.body)}`);
  if (result && result.status === 202 && result.body.id) return;
  into.refused.set(result?.status ?? 0, (into.refused.get(result?.status ?? 0) ?? 0) + 1);
}

/** Submits `count` jobs as fast as `concurrency` requests in flight allow. */
export async function submitMany(client: Api, count: number, body: (i: number) => unknown, concurrency = 32) {
  const out: Submitted = { accepted: new Map(), refused: new Map() };
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const at = Date.now();
        record(
          out,
          at,
          await client.call<{ id?: string }>('POST', '/v1/jobs', body(i)).catch(() => undefined),
        );
      }
    }),
  );
  return out;
}

/**
 * Offers jobs at a steady rate for `seconds`, each on its own schedule (an open loop: a slow answer does not
 * slow the offered load). `body(i)` may pick a client per job, for spreading over API processes.
 */
export async function offer(
  clients: Api[],
  ratePerSecond: number,
  seconds: number,
  body: (i: number) => unknown,
  out: Submitted = { accepted: new Map(), refused: new Map() },
  stop?: AbortSignal,
) {
  const total = Math.round(ratePerSecond * seconds);
  const start = Date.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total && !stop?.aborted; i++) {
    const due = start + (i * 1000) / ratePerSecond;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const client = clients[i % clients.length] as Api;
    const at = Date.now();
    inFlight.push(
      client
        .call<{ id?: string }>('POST', '/v1/jobs', body(i))
        .then((result) => record(out, at, result))
        .catch(() => record(out, at, undefined)),
    );
  }
  await Promise.all(inFlight);
  return out;
}

/** The database of one scenario: a fresh one on the run's Postgres. */
export async function freshDatabase(
  serverUrl: string,
): Promise<{ url: string; db: pg.Pool; drop(): Promise<void> }> {
  const name = `hookrelay_chaos_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = new pg.Pool({ connectionString: url.toString(), max: 2 });
  db.on('error', () => undefined);
  return {
    url: url.toString(),
    db,
    async drop() {
      await db.end();
      const again = new pg.Client({ connectionString: serverUrl });
      await again.connect();
      await again.query(`drop database if exists ${name} with (force)`);
      await again.end();
    },
  };
}

export async function count(db: pg.Pool, sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: number }>(sql, values);
  return rows[0]?.n ?? 0;
}

/** Delivered, pending and dead messages, from the database. */
export async function messageCounts(db: pg.Pool) {
  const { rows } = await db.query<{ status: string; n: number }>(
    'select status, count(*)::int as n from messages group by status',
  );
  const by = Object.fromEntries(rows.map((row) => [row.status, row.n]));
  return { delivered: by.delivered ?? 0, pending: by.pending ?? 0, dead: by.dead ?? 0 };
}

/** The receiver's view against the database's (of one endpoint's messages, or all): every message arrived,
 * and what arrived twice. */
export async function deliveryAudit(db: pg.Pool, received: Receiver, endpointId?: string) {
  const { rows } = await db.query<{ id: string }>(
    'select id from messages where $1::text is null or endpoint_id = $1',
    [endpointId ?? null],
  );
  const ids = new Set(rows.map((row) => row.id));
  const missing = rows.filter((row) => !received.arrivals.has(row.id)).length;
  const unknown = [...received.arrivals.keys()].filter((id) => !ids.has(id)).length;
  let duplicates = 0;
  for (const times of received.arrivals.values()) duplicates += times.length - 1;
  return { messages: rows.length, missing, unknown, duplicates };
}
