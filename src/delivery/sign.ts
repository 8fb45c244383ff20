// Standard Webhooks signatures: v1,base64(HMAC-SHA256(secret bytes, "{id}.{timestamp}.{body}")).
import { createHmac } from 'node:crypto';

const PREFIX = 'whsec_';

function secretBytes(secret: string): Buffer {
  return Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
}

/** One `v1,…` signature per secret, space-separated (two while a rotated secret is still honoured). */
export function signatureHeader(
  secrets: string[],
  id: string,
  timestampSeconds: number,
  body: string,
): string {
  const content = `${id}.${timestampSeconds}.${body}`;
  return secrets
    .map((secret) => `v1,${createHmac('sha256', secretBytes(secret)).update(content).digest('base64')}`)
    .join(' ');
}
