// What domain code throws when a request cannot be done as asked, and which errors mean the database cannot be
// reached right now. It knows nothing of HTTP: src/http/problem.ts maps each kind to its status (503 for a
// database that is away). A domain error's message is written for the client and is safe to show.

/** A field of the request and what is wrong with it, e.g. `body.input.url`. */
export interface FieldError {
  path: string;
  message: string;
}

/** The object does not exist, or belongs to another tenant: the two are not told apart (404). */
export class NotFound extends Error {}

export class JobNotFound extends NotFound {
  constructor(id: string) {
    super(`No job ${id}.`);
  }
}

/** The object's state does not allow the change (409). */
export class Conflict extends Error {}

export class JobFinished extends Conflict {
  constructor(status: string) {
    super(`The job is already ${status}.`);
  }
}

/**
 * A task token's attempt can no longer report (409), with a title that says why, so a worker can tell a cancel
 * (stop the work) from a lost lease (another worker has the job) from an attempt already reported.
 */
export class AttemptConflict extends Conflict {
  readonly title: 'Attempt cancelled' | 'Attempt ended' | 'Lease lost';

  constructor(title: AttemptConflict['title'], message: string) {
    super(message);
    this.title = title;
  }
}

export class IdempotencyKeyReused extends Conflict {
  constructor() {
    super('This Idempotency-Key was used with a different request body in the last 24 hours.');
  }
}

export class DeadLetterReplayed extends Conflict {
  constructor(replayedAt: Date, messageId: string) {
    super(
      `The dead letter was already replayed at ${replayedAt.toISOString()}; to send its message once more, ` +
        `resend it (POST /v1/messages/${messageId}/resend).`,
    );
  }
}

/** The request is well formed but names something that cannot be used: a type, an endpoint, a URL (422). */
export class Unprocessable extends Error {}

/** The request's content is not valid in a way its schema cannot say, field by field (400). */
export class InvalidRequest extends Error {
  readonly errors: FieldError[];

  constructor(message: string, errors: FieldError[]) {
    super(message);
    this.errors = errors;
  }
}

/** A limit is reached; the client may retry after `retryAfterSeconds` (429). */
export class QuotaExceeded extends Error {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class EndpointNotFound extends NotFound {
  constructor(id: string) {
    super(`No endpoint ${id}.`);
  }
}

export class MessageNotFound extends NotFound {
  constructor(id: string) {
    super(`No message ${id}.`);
  }
}

export class DeadLetterNotFound extends NotFound {
  constructor(id: string) {
    super(`No dead letter ${id}.`);
  }
}

export class TenantNotFound extends NotFound {
  constructor(id: string) {
    super(`No tenant ${id}.`);
  }
}

export class KeyNotFound extends NotFound {
  constructor(tenantId: string, keyId: string) {
    super(`No live key ${keyId} for tenant ${tenantId}.`);
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
/** SQLSTATEs for a server that is shutting down, starting up, or out of connections. */
const SERVER_CODES = new Set(['57P01', '57P02', '57P03', '53300']);

export function isDatabaseUnavailable(error: unknown): boolean {
  // pg-boss passes its errors on as plain copies ({ ...error }), so look at the fields, not the class.
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (
    typeof code === 'string' &&
    (NETWORK_CODES.has(code) || SERVER_CODES.has(code) || code.startsWith('08'))
  ) {
    return true;
  }
  // pg reports pool checkout timeouts and dropped connections with plain messages and no code.
  return (
    typeof message === 'string' &&
    /timeout exceeded when trying to connect|Connection terminated|Query read timeout|not queryable/i.test(
      message,
    )
  );
}
