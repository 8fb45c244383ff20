// runWorker: checks the options, runs the claim loop and the tasks it starts, and stops them gracefully.
import { claimLoop } from './claim-loop.ts';
import { createHttp } from './http.ts';
import { TaskAbortedError } from './outcome.ts';
import { runTask } from './task.ts';
import type { Handler, Log, StopOptions, Worker, WorkerOptions } from './types.ts';

/** As the service names job types. */
const TYPE_NAME = /^[a-z][a-z0-9._-]{0,63}$/;

/** Warnings and errors on stderr, one line each; the rest is for a `log` that wants it. */
const stderrLog: Log = (level, message, fields) => {
  if (level === 'warn' || level === 'error')
    console.error(`hookrelay worker ${level}: ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`);
};

function integer(name: string, value: number | undefined, fallback: number, min: number, max: number) {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < min || n > max)
    throw new RangeError(`${name} must be a whole number from ${min} to ${max}, not ${value}`);
  return n;
}

/** The options, checked once: a mistake is a throw here, not a worker that claims nothing. */
function settingsOf(options: WorkerOptions) {
  const handlers: Record<string, Handler> =
    'handlers' in options && options.handlers
      ? { ...options.handlers }
      : Object.fromEntries((options.types ?? []).map((type) => [type, options.handler as Handler]));
  const types = Object.keys(handlers);
  if (types.length < 1 || types.length > 20) throw new RangeError('a worker claims 1 to 20 job types');
  for (const [type, handler] of Object.entries(handlers)) {
    if (!TYPE_NAME.test(type)) throw new TypeError(`"${type}" is not a job type name`);
    if (typeof handler !== 'function') throw new TypeError(`the handler for "${type}" is not a function`);
  }
  if (typeof options.key !== 'string' || options.key === '') throw new TypeError('key is required');
  return {
    handlers,
    types,
    concurrency: integer('concurrency', options.concurrency, 1, 1, 1_000),
    waitSeconds: integer('waitSeconds', options.waitSeconds, 30, 0, 60),
  };
}

/**
 * Claims jobs of the given remote types from hookrelay and runs them, `concurrency` at a time, until `stop()`.
 * Each attempt's lease is kept by heartbeats while its handler runs, and its outcome reported with its task
 * token: the handler's result completes the job, its error fails the attempt (see `Handler`).
 */
export function runWorker(options: WorkerOptions): Worker {
  const settings = settingsOf(options);
  const log = options.log ?? stderrLog;
  const http = createHttp(options.url, options.key);
  const stopping = new AbortController();
  const aborting = new AbortController();
  const reporting = new Set<Promise<void>>();
  let running = 0;

  const loop = claimLoop({
    http,
    log,
    types: settings.types,
    concurrency: settings.concurrency,
    waitSeconds: settings.waitSeconds,
    stopping: stopping.signal,
    start(claimed, serverNow) {
      running++;
      const task = runTask(
        { http, log, stopping: aborting.signal },
        settings.handlers[claimed.type],
        claimed,
        serverNow,
      );
      reporting.add(task.reported);
      void task.reported.then(() => reporting.delete(task.reported));
      return Promise.all([task.reported, task.returned]).then(() => {
        running--;
      });
    },
  });

  let abortTimer: NodeJS.Timeout | undefined;
  let finished = false;
  const done = (async () => {
    let failure: unknown;
    try {
      await loop;
    } catch (error) {
      failure = error;
      log('error', `worker stopping: ${(error as Error).message}`);
    }
    stopping.abort();
    // Whether stopped or refused, what was claimed is finished and reported: the task routes need no key.
    while (reporting.size > 0) await Promise.all([...reporting]);
    finished = true;
    clearTimeout(abortTimer);
    await http.close();
    if (failure) throw failure;
  })();

  let stopped: Promise<void> | undefined;
  return {
    done,
    get running() {
      return running;
    },
    stop(stopOptions: StopOptions = {}) {
      if (stopped) return stopped;
      stopping.abort();
      const { abortAfterMs } = stopOptions;
      if (abortAfterMs !== undefined && !finished)
        abortTimer = setTimeout(
          () =>
            aborting.abort(
              new TaskAbortedError('the worker stopped before the task finished', 'worker_stopping'),
            ),
          Math.max(0, abortAfterMs),
        );
      stopped = done.then(
        () => undefined,
        () => undefined,
      );
      return stopped;
    },
  };
}
