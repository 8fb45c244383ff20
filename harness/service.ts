// Runs the real `hookrelay` command as a child process, as `npm start` does, and follows its JSON logs: the
// service under test for the process tests, the chaos scenarios and the benchmarks.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../src/store/embedded-postgres.ts';
import { waitFor } from './wait.ts';

/** The command as every way of starting it runs it, Node's flags included (its first line). */
const BIN = path.resolve(import.meta.dirname, '..', 'bin', 'hookrelay.js');

/** The operator key of the services `startService` starts. */
export const ADMIN_KEY = `harness-operator-${randomBytes(12).toString('hex')}`;

export interface LogLine {
  msg?: string;
  level?: number;
  [key: string]: unknown;
}

export interface ServiceProcess {
  child: ChildProcess;
  logs: LogLine[];
  stderr: () => string;
  /** Lines logged at error level or above, and what went to stderr. */
  errors: string[];
  /** Resolves with the first log line the predicate accepts, or rejects when the process exits first. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the base URL once the service logs that it is ready. */
  ready(timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  rssMiB(): number;
  /** SIGTERM, then SIGKILL if it has not exited within `killAfterMs`. */
  stop(killAfterMs?: number): Promise<void>;
}

/**
 * Starts `hookrelay <args>` with only the given environment (plus PATH), so nothing leaks in from the runner:
 * no DATABASE_URL unless the caller passes one. PORT defaults to 0: the ready line says where it listens.
 */
export function spawnHookrelay(env: Record<string, string>, args: string[] = ['serve']): ServiceProcess {
  // The service as `npm start` runs it. The `node` its first line names is the one this process runs on.
  const child = spawn(BIN, args, {
    env: {
      PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
      PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const errors: string[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    errors.push(chunk.toString().slice(0, 4000));
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { msg: text };
    }
    logs.push(line);
    if ((line.level ?? 0) >= 50) errors.push(text.slice(0, 500));
    for (const wake of waiters) wake();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      resolve({ code, signal });
      for (const wake of waiters) wake();
    }),
  );
  const alive = () => child.exitCode === null && child.signalCode === null;

  const waitForLog = (predicate: (line: LogLine) => boolean, timeoutMs = 30_000) =>
    new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(
        () => done(new Error(`no matching log line within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const check = () => {
        const found = logs.find(predicate);
        if (found) done(undefined, found);
        else if (!alive())
          done(new Error(`process exited (${child.exitCode ?? child.signalCode}): ${stderr}`));
      };
      const done = (error?: Error, line?: LogLine) => {
        clearTimeout(timer);
        waiters.delete(check);
        if (error) reject(error);
        else resolve(line as LogLine);
      };
      waiters.add(check);
      check();
    });

  return {
    child,
    logs,
    errors,
    stderr: () => stderr,
    waitForLog,
    ready: async (timeoutMs) => String((await waitForLog((l) => l.msg === 'hookrelay ready', timeoutMs)).url),
    exited,
    alive,
    rssMiB() {
      try {
        const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
        return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
      } catch {
        return 0;
      }
    },
    async stop(killAfterMs = 30_000) {
      if (!alive()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface Service extends ServiceProcess {
  name: string;
  base: string;
}

const running = new Set<Service>();

/**
 * A service for a scenario or benchmark, with the operator key ADMIN_KEY, loopback receivers allowed, and no
 * per-tenant rate limit (the load generators submit as one tenant, faster than the default would admit).
 * `stopAll` stops every one still running.
 */
export async function startService(name: string, env: Record<string, string>): Promise<Service> {
  const port = await freePort();
  const spawned = spawnHookrelay({
    PORT: String(port),
    ADMIN_API_KEY: ADMIN_KEY,
    OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8',
    LOG_LEVEL: 'warn',
    TENANT_RATE_LIMIT: '1000000',
    ...env,
  });
  const service: Service = {
    ...spawned,
    name,
    base: `http://127.0.0.1:${port}`,
    async stop(killAfterMs) {
      await spawned.stop(killAfterMs);
      running.delete(service);
    },
  };
  running.add(service);
  // At LOG_LEVEL warn there is no ready line to wait for: readiness is asked for instead.
  const ready = waitFor(
    `${name} to be ready`,
    async () => (await fetch(`${service.base}/readyz`)).status === 200,
    60_000,
    100,
  );
  await Promise.race([
    ready,
    spawned.exited.then(() => {
      throw new Error(`${name} exited while starting: ${spawned.errors.join(' ')}`);
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
