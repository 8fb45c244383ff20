// Runs one claimed attempt: the handler with its task, the lease kept meanwhile, the deadline and a stop's abort on
// its signal, then the one report (complete or fail) that ends it, retried while the lease may still count it.
import { retryDelayMs } from '../jobs/backoff.ts';
import { PermanentJobError } from '../jobs/handler.ts';
import { untilAborted } from '../timeout.ts';
import type { Http } from './http.ts';
import { keepLease, leftOf, TaskEndedError } from './lease.ts';
import { failed, type Report, succeeded, TaskAbortedError } from './outcome.ts';
import type { Handler, Log, Task } from './types.ts';

/** One job of a claim answer, as the contract gives it. */
export interface Claimed {
  jobId: string;
  type: string;
  input: unknown;
  attempt: number;
  maxAttempts: number;
  metadata: Record<string, unknown> | null;
  taskToken: string;
  leaseExpiresAt: string;
  deadline: string;
}

export interface Running {
  /** Settles once the attempt was reported, or hookrelay said it is over. */
  reported: Promise<void>;
  /** Settles once the handler returned: its slot is taken until then, however long it ignores its signal. */
  returned: Promise<void>;
}

/** The least a lease may last (heartbeatSeconds 5): assumed when a claim answer gives no time it can read. */
const SHORTEST_LEASE_MS = 5_000;
/** A report may take long under load; a slow answer is still an answer (and retrying it would be a 409). */
const REPORT_TIMEOUT_MS = 30_000;

export function runTask(
  env: { http: Http; log: Log; stopping: AbortSignal },
  handler: Handler | undefined,
  claimed: Claimed,
  serverNow: number | undefined,
): Running {
  const { http, log } = env;
  const fields = { jobId: claimed.jobId, type: claimed.type, attempt: claimed.attempt };
  const token = encodeURIComponent(claimed.taskToken);
  const leaseLeft = leftOf(claimed.leaseExpiresAt, serverNow);
  const lease = keepLease(
    http,
    claimed.taskToken,
    Number.isFinite(leaseLeft) ? leaseLeft : SHORTEST_LEASE_MS,
    log,
    fields,
  );
  const cap = new AbortController();
  const capLeft = leftOf(claimed.deadline, serverNow);
  const capTimer = Number.isFinite(capLeft)
    ? setTimeout(
        () =>
          cap.abort(new TaskAbortedError(`the attempt's deadline (${claimed.deadline}) passed`, 'timeout')),
        Math.max(0, capLeft),
      )
    : undefined;
  const signal = AbortSignal.any([lease.ended, cap.signal, env.stopping]);
  const task: Task = {
    jobId: claimed.jobId,
    type: claimed.type,
    input: claimed.input,
    attempt: claimed.attempt,
    maxAttempts: claimed.maxAttempts,
    metadata: claimed.metadata ?? {},
    deadline: new Date(claimed.deadline),
    signal,
    progress: (percent, message) =>
      signal.aborted ? Promise.reject(signal.reason) : lease.progress(percent, message),
  };
  log('debug', 'task started', fields);

  const running = (async () => {
    // Claims name only this worker's types; a server answering with another is retried elsewhere.
    if (!handler) throw new Error(`this worker has no handler for the job type "${claimed.type}"`);
    return handler(task);
  })();
  const returned = running.then(
    () => undefined,
    () => undefined,
  );

  async function deliver(first: Report) {
    let report = first;
    for (let failures = 1; ; failures++) {
      const reply = await http.post(`v1/tasks/${token}/${report.route}`, report.json, {
        auth: false,
        timeoutMs: REPORT_TIMEOUT_MS,
      });
      if (reply.kind === 'ok') return log('debug', `task reported: ${report.route}`, fields);
      if (reply.kind === 'ended') {
        lease.end(new TaskEndedError(reply.status, reply.title, report.route));
        return log('warn', `hookrelay did not take this attempt's ${report.route}: ${reply.title}`, fields);
      }
      if (reply.kind === 'refused') {
        // A result hookrelay cannot keep (too large, say) would be refused on every attempt: the job fails.
        if (report.route === 'complete') {
          report = failed(
            new PermanentJobError(`hookrelay refused the result: ${reply.status} ${reply.title}`),
          );
          continue;
        }
        return log('error', `hookrelay refused this attempt's fail: ${reply.status} ${reply.title}`, fields);
      }
      // Worth trying again only while the lease holds: after it, hookrelay retries the job itself.
      if (lease.leftMs() <= 0)
        return log('error', 'could not report the attempt before its lease ran out', {
          ...fields,
          reason: reply.reason,
        });
      const waitMs = Math.min(
        Math.max(retryDelayMs(failures, 250, 5_000), reply.retryAfterMs ?? 0),
        lease.leftMs(),
      );
      log('warn', `${report.route} failed; trying again`, { ...fields, reason: reply.reason, waitMs });
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }

  const reported = (async () => {
    let report: Report;
    try {
      report = succeeded(await untilAborted(running, signal));
    } catch (error) {
      report = failed(error);
    } finally {
      clearTimeout(capTimer);
    }
    await lease.release();
    // Cancelled, ended or lost: hookrelay has decided the attempt, and a report would only be refused.
    if (lease.ended.aborted)
      return log('info', 'task stopped: the attempt is over for hookrelay', {
        ...fields,
        reason: (lease.ended.reason as Error).message,
      });
    await deliver(report);
  })().catch((error: unknown) =>
    log('error', 'task ended unexpectedly', { ...fields, error: String(error) }),
  );

  return { reported, returned };
}
