// Recognises errors that mean "the database cannot be reached right now", which callers answer with 503.

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
