// Load for scenarios and benchmarks: a JSON client with a keep-alive pool, tenants with endpoints made through
// the API, jobs submitted flat out or offered at a steady rate, and the percentiles of what came of them.
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { ADMIN_KEY } from './service.ts';

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
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
  receiverList: Array<{ url: string }>,
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
