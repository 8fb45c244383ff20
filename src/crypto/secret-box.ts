// Encryption at rest for signing secrets: AES-256-GCM under HOOKRELAY_ENCRYPTION_KEY. Each sealed value names
// the key that sealed it, so keys can be rotated (list the new key first, keep the old ones until every
// secret is resealed), and is bound to the row it belongs to, so a ciphertext copied onto another endpoint
// or tenant does not open there.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface SecretBox {
  /** Whether new secrets are sealed (a key is configured). */
  readonly sealing: boolean;
  /** Id of the key that seals; values sealed under any other key want resealing. */
  readonly currentKeyId: string | undefined;
  /** `owner` binds the value to its row, e.g. `endpoint:ep_…`. Without a key, returns the secret as it is. */
  seal(secret: string, owner: string): string;
  /** The secret of a stored value, sealed or (from before encryption was enabled) plain. */
  open(stored: string, owner: string): string;
}

export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
}

export function isSealed(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

/** The id of the key a sealed value names. */
export function sealedKeyId(stored: string): string {
  return stored.slice(PREFIX.length).split(':', 1)[0] ?? '';
}

/** A short, public fingerprint of a key: which key sealed a value, without revealing it. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** `keys[0]` seals; every key opens. An empty list seals nothing and opens only plain values. */
export function createSecretBox(keys: Buffer[]): SecretBox {
  const byId = new Map(keys.map((key) => [keyId(key), key]));
  const current = keys[0];
  const currentKeyId = current && keyId(current);

  return {
    sealing: current !== undefined,
    currentKeyId,
    seal(secret, owner) {
      if (!current || !currentKeyId) return secret;
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current, iv);
      cipher.setAAD(Buffer.from(owner));
      const sealed = Buffer.concat([iv, cipher.update(secret, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${PREFIX}${currentKeyId}:${sealed.toString('base64url')}`;
    },
    open(stored, owner) {
      if (!isSealed(stored)) return stored;
      const id = sealedKeyId(stored);
      const key = byId.get(id);
      if (!key)
        throw new SecretBoxError(`a secret is sealed under key ${id}, which HOOKRELAY_ENCRYPTION_KEY lacks`);
      const sealed = Buffer.from(stored.slice(PREFIX.length + id.length + 1), 'base64url');
      if (sealed.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError(`the secret of ${owner} is damaged`);
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(owner));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      try {
        return Buffer.concat([
          decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
          decipher.final(),
        ]).toString('utf8');
      } catch {
        throw new SecretBoxError(`the secret of ${owner} does not open: altered, or sealed for another row`);
      }
    },
  };
}

/** The rows secrets are bound to. An endpoint's current and previous secret share one, as rotation moves
 * the value from one column to the other. */
export const owners = {
  tenant: (id: string) => `tenant:${id}`,
  endpoint: (id: string) => `endpoint:${id}`,
};
