// Recognises errors that mean "the database cannot be reached right now", which callers answer with 503.

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
/** SQLSTATEs for a server that is shutting down, starting up, or out of connections. */
const SERVER_CODES = new Set(['57P01', '57P02', '57P03', '53300']);

export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (
    typeof code === 'string' &&
    (NETWORK_CODES.has(code) || SERVER_CODES.has(code) || code.startsWith('08'))
  ) {
    return true;
  }
  // pg reports pool checkout timeouts and dropped connections with plain messages and no code.
  return /timeout exceeded when trying to connect|Connection terminated|Query read timeout/i.test(
    error.message,
  );
}
