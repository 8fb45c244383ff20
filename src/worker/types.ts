// What a program using `hookrelay/worker` sees: the task a handler gets, the options, the running worker.

/** One attempt of a job, as a handler gets it. */
export interface Task<Input = unknown> {
  jobId: string;
  type: string;
  /** As submitted, checked by the type's `inputSchema` if it has one (not again here). */
  input: Input;
  /** 1 for the first attempt. */
  attempt: number;
  maxAttempts: number;
  metadata: Record<string, unknown>;
  /** When the attempt's time cap (the type's or job's `timeoutSeconds`) runs out; `signal` aborts then. */
  deadline: Date;
  /**
   * Aborted when the work must stop: the job was cancelled or the attempt is over for hookrelay (its reason is a
   * `TaskEndedError`), the deadline passed, or `stop({ abortAfterMs })` ran out. Pass it to every awaited call.
   */
  signal: AbortSignal;
  /**
   * Reports progress (0–100, message up to 500 characters) at once, as a heartbeat; calls made while one is in
   * flight are coalesced into the next, which carries the latest. Resolves once a heartbeat carrying it was
   * sent (one that failed is retried with the next heartbeat); rejects with `signal.reason` once the attempt is
   * over, and with a RangeError for a percent outside 0–100.
   */
  progress(percent: number, message?: string): Promise<void>;
}

/**
 * Runs one attempt and returns its result (any JSON; `undefined` is sent as `null`). Throw `PermanentJobError` to
 * fail the job at once, `RetryLaterError` to be tried again no sooner than its delay, anything else to be
 * retried with the service's backoff.
 *
 * Declared as a method's type on purpose: method parameters are checked both ways, so a handler may name the
 * input it expects (`async (task: Task<{ name: string }>) => …`) and still fit where any task is handed in.
 */
export type Handler<Input = unknown> = {
  run(task: Task<Input>): Promise<unknown> | unknown;
}['run'];

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Where the worker says what it does. Fields never carry task tokens or API keys. */
export type Log = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

interface CommonOptions {
  /** hookrelay's base URL, e.g. `https://jobs.example.com` (a path prefix is kept). */
  url: string;
  /** A worker key (`role: "worker"`) or the tenant's API key. */
  key: string;
  /** Attempts run at once (1–1000; default 1): each claim asks for the free slots, at most 100 at a time. */
  concurrency?: number;
  /** How long one claim waits for a job when none is due (0–60 s; default 30). */
  waitSeconds?: number;
  /** Default: warnings and errors on stderr, one line each. */
  log?: Log;
}

export type WorkerOptions = CommonOptions &
  (
    | {
        /** The remote job types to claim (1–20), all run by `handler`. */
        types: string[];
        handler: Handler;
        handlers?: never;
      }
    | {
        /** One handler per remote job type (1–20 types): the types claimed are its keys. */
        handlers: Record<string, Handler>;
        types?: never;
        handler?: never;
      }
  );

export interface StopOptions {
  /**
   * Abort the tasks still running this long after `stop()` (their `signal`), and report them failed: each such
   * attempt counts, and the job is retried with backoff like any failed attempt (or fails, if it was its last).
   * Default: wait for them however long they take.
   */
  abortAfterMs?: number;
}

export interface Worker {
  /**
   * Stops claiming (an open long poll is abandoned), lets the running tasks finish and report, and resolves
   * once they have. Calling it again returns the same promise. Never rejects: `done` carries a failure.
   */
  stop(options?: StopOptions): Promise<void>;
  /**
   * Settles when the worker has stopped: resolves after `stop()`, rejects when it stopped by itself because
   * hookrelay refused its claims in a way retrying cannot change (401, 403, 422: a wrong key or type), after
   * its running tasks finished. Unobserved, that rejection ends the process, as an unhandled rejection does.
   */
  done: Promise<void>;
  /** Attempts running now. */
  readonly running: number;
}
