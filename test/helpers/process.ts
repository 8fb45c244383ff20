// Runs the real `hookrelay` command as a child process and follows its JSON logs.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Test } from 'tap';

const CLI = path.resolve(import.meta.dirname, '..', '..', 'src', 'cli', 'hookrelay.ts');

export interface LogLine {
  msg?: string;
  [key: string]: unknown;
}

export interface ServiceProcess {
  child: ChildProcess;
  logs: LogLine[];
  stderr: () => string;
  /** Resolves with the first log line the predicate accepts, or rejects when the process exits first. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the base URL once the service logs that it is ready. */
  ready(timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `hookrelay <args>` with only the given environment (plus PATH), so nothing leaks in from the test
 * runner: no DATABASE_URL unless the test passes one. A process still running at teardown gets SIGTERM, then
 * SIGKILL, so an embedded Postgres it owns is stopped properly.
 */
export function runHookrelay(
  t: Test,
  env: Record<string, string>,
  args: string[] = ['serve'],
): ServiceProcess {
  // The service as `npm start` runs it (see README, Memory).
  const child = spawn(
    process.execPath,
    ['--max-semi-space-size=4', '--max-old-space-size=1024', CLI, ...args],
    {
      env: { PATH: process.env.PATH ?? '', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: LogLine[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    try {
      logs.push(JSON.parse(text) as LogLine);
    } catch {
      logs.push({ msg: text });
    }
    for (const wake of waiters) wake();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      resolve({ code, signal });
      for (const wake of waiters) wake();
    }),
  );

  const waitForLog = (predicate: (line: LogLine) => boolean, timeoutMs = 30_000) =>
    new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(
        () => done(new Error(`no matching log line within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const check = () => {
        const found = logs.find(predicate);
        if (found) done(undefined, found);
        else if (child.exitCode !== null || child.signalCode !== null)
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

  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  });

  return {
    child,
    logs,
    stderr: () => stderr,
    waitForLog,
    ready: async (timeoutMs) => String((await waitForLog((l) => l.msg === 'hookrelay ready', timeoutMs)).url),
    exited,
  };
}
