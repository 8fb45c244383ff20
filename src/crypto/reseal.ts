// At start: make every stored signing secret match the configured encryption key. Plain secrets (from before
// a key was set) and secrets under an older key are resealed under the current one; a secret no configured
// key opens stops the start, since deliveries could not be signed.
import { ConfigError } from '../config/config.ts';
import type { Logger } from '../log.ts';
import type { Pool } from '../store/pool.ts';
import {
  countSecretsStartingWith,
  replaceSecret,
  type StoredSecret,
  secretsNotStartingWith,
} from '../store/secrets.ts';
import { owners, type SecretBox, SecretBoxError } from './secret-box.ts';

const BATCH = 500;

/** The row a secret is bound to when sealed: the same for an endpoint's current and previous secret. */
export function secretOwner(secret: Pick<StoredSecret, 'place' | 'id'>): string {
  return secret.place.startsWith('tenants.') ? owners.tenant(secret.id) : owners.endpoint(secret.id);
}

export async function resealSecrets(pool: Pool, box: SecretBox, log: Logger): Promise<void> {
  if (!box.sealing) {
    const sealed = await countSecretsStartingWith(pool, 'enc:');
    if (sealed > 0) {
      throw new ConfigError(
        `${sealed} signing secrets are encrypted, but HOOKRELAY_ENCRYPTION_KEY is not set: set it to the key they were sealed with.`,
      );
    }
    return;
  }
  const prefix = `enc:v1:${box.currentKeyId}:`;
  let resealed = 0;
  let after: StoredSecret | undefined;
  for (;;) {
    const batch = await secretsNotStartingWith(pool, prefix, after, BATCH);
    if (batch.length === 0) break;
    after = batch.at(-1);
    for (const secret of batch) {
      let plain: string;
      try {
        plain = box.open(secret.value, secretOwner(secret));
      } catch (error) {
        if (error instanceof SecretBoxError)
          throw new ConfigError(`Cannot open a stored signing secret: ${error.message}.`);
        throw error;
      }
      await replaceSecret(pool, secret, box.seal(plain, secretOwner(secret)));
    }
    resealed += batch.length;
  }
  if (resealed > 0)
    log.info({ resealed, keyId: box.currentKeyId }, 'signing secrets sealed under the current key');
}
