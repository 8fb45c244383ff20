// Task tokens: the one credential of a remote or push attempt's reports. 256 random bits, so (as for API keys) a
// fast hash is enough to store them; the token itself is shown once, to the attempt's worker.
import { createHash, randomBytes } from 'node:crypto';

const PREFIX = 'tt_';

export function newTaskToken(): { token: string; hash: Buffer } {
  const token = `${PREFIX}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashTaskToken(token) };
}

export function hashTaskToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
