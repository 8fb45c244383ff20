// A running API with workers on a fresh database, plus helpers to create tenants and follow jobs.
import type { Test } from 'tap';
import { startDispatcher } from '../../src/delivery/dispatcher.ts';
import { startDrains } from '../../src/delivery/drain.ts';
import { buildApp } from '../../src/http/app.ts';
import type { JobHandler } from '../../src/jobs/handler.ts';
import { startJobRunner } from '../../src/jobs/runner.ts';
import { type Api, client } from './client.ts';
import { listen, testContext } from './context.ts';

export const ADMIN_KEY = 'operator-key-for-tests-0123456789';

export interface Job {
  id: string;
  status: string;
  attempts: number;
  error: string | null;
  result: unknown;
  progress: { percent: number; message: string | null };
  [key: string]: unknown;
}

export async function jobsApp(
  t: Test,
  env: Record<string, string> = {},
  options: { workers?: boolean; handlers?: JobHandler[] } = {},
) {
  const ctx = await testContext(
    t,
    {
      ADMIN_API_KEY: ADMIN_KEY,
      OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
      JOB_RETRY_BASE: '100ms',
      JOB_RETRY_MAX: '1s',
      ...env,
    },
    options.handlers,
  );
  if (options.workers !== false) {
    const dispatcher = startDispatcher(ctx);
    t.teardown(() => dispatcher.stop(Date.now() + 1_000));
    const runner = startJobRunner(ctx, dispatcher);
    t.teardown(() => runner.stop(Date.now() + 1_000));
    await startDrains(ctx);
  }
  const base = await listen(t, await buildApp(ctx));
  const admin = client(base, ADMIN_KEY);

  async function tenant(name = 'tenant'): Promise<{ id: string; key: string; api: Api }> {
    const { body } = await admin<{ id: string; apiKey: string }>('POST', '/v1/admin/tenants', { name });
    return { id: body.id, key: body.apiKey, api: client(base, body.apiKey) };
  }

  /** Long-polls until the job is terminal (the API's own waiting, no sleeps in the test). */
  async function finished(api: Api, id: string, waitSeconds = 30): Promise<Job> {
    return (await api<Job>('GET', `/v1/jobs/${id}?waitSeconds=${waitSeconds}`)).body;
  }

  return { ctx, base, admin, tenant, finished };
}

export interface StreamEvent {
  id: string;
  event: string;
  data: Job;
}

/** Reads a job's Server-Sent Events until the server ends the stream. */
export async function readEvents(
  base: string,
  key: string,
  id: string,
  headers: Record<string, string> = {},
) {
  const response = await fetch(`${base}/v1/jobs/${id}/events`, {
    headers: { authorization: `Bearer ${key}`, ...headers },
  });
  const text = await response.text();
  const events: StreamEvent[] = text
    .split('\n\n')
    .filter((block) => block.includes('data: '))
    .map((block) => {
      const field = (name: string) =>
        block
          .split('\n')
          .find((line) => line.startsWith(`${name}: `))
          ?.slice(name.length + 2) ?? '';
      return { id: field('id'), event: field('event'), data: JSON.parse(field('data')) as Job };
    });
  return { response, events };
}
