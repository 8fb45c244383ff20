// Runs the `hookrelay` client commands as an operator would: a child process, its output and exit code.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Test } from 'tap';
import { waitFor } from '../../harness/wait.ts';

const CLI = path.resolve(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A runner for `hookrelay …` against one service, with `HOOKRELAY_URL` and `HOOKRELAY_API_KEY` set. */
export function cli(base: string, key?: string) {
  return (args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        env: {
          PATH: process.env.PATH ?? '',
          HOOKRELAY_URL: base,
          ...(key && { HOOKRELAY_API_KEY: key }),
          ...extraEnv,
        },
        // No terminal on stdin: commands that would ask for confirmation must be told --yes.
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
}

export interface Listener {
  child: ChildProcess;
  url: string;
  /** Every webhook it printed (`--json`), in order. */
  received: Array<{
    webhookId: string;
    type: string;
    jobId?: string;
    attempt: number;
    verified: boolean;
    problem?: string;
  }>;
  /** Resolves once `predicate` holds for what was received. */
  until(predicate: (received: Listener['received']) => boolean, timeoutMs?: number): Promise<void>;
}

/** Starts `hookrelay listen --port 0 --json …` and resolves once it is listening. */
export async function listener(t: Test, args: string[] = []): Promise<Listener> {
  const child = spawn(process.execPath, [CLI, 'listen', '--port', '0', '--json', ...args], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    child.kill('SIGTERM');
  });
  const received: Listener['received'] = [];
  createInterface({ input: child.stdout }).on('line', (line) => received.push(JSON.parse(line)));
  const url = await new Promise<string>((resolve, reject) => {
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (http:\/\/[\d.]+:\d+)\//.exec(stderr);
      if (match) resolve(match[1] as string);
    });
    child.on('exit', (code) => reject(new Error(`listen exited (${code}): ${stderr}`)));
  });
  return {
    child,
    url,
    received,
    async until(predicate, timeoutMs = 30_000) {
      // The failure says how many did arrive: none at all reads differently from the wrong ones.
      await waitFor('the webhooks the listener expects', () => predicate(received), timeoutMs).catch(
        (error: Error) => {
          throw new Error(`listener: ${error.message} (${received.length} received)`);
        },
      );
    },
  };
}
