// API keys and signing secrets: generated from the CSPRNG, keys stored only as their SHA-256.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const KEY_PREFIX = 'hr_';

/** A new API key: 256 random bits, so a fast hash is enough to store it (nothing to brute-force). */
export function generateApiKey(): string {
  return `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/** Compares two keys in time independent of where they differ (hashing first equalises the lengths). */
export function sameKey(given: string, expected: string): boolean {
  return timingSafeEqual(hashApiKey(given), hashApiKey(expected));
}

/** A Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}
