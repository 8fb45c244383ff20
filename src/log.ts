// The process logger: structured JSON through pino, with secrets and payloads redacted at the source.
import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Paths that may carry credentials or customer payloads. Redaction happens in the logger, so a
 * careless `log.info({ req })` or `log.info({ job })` elsewhere still cannot leak them.
 */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'headers.authorization',
  '*.apiKey',
  '*.secret',
  '*.signingSecret',
  '*.password',
  '*.input',
  '*.result',
  '*.body',
  '*.payload',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'hookrelay' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
