// Gives a brand-new development database an operator key, so the quick start works without configuration.
import type { Config } from '../config/config.ts';
import { newId } from '../ids.ts';
import type { Logger } from '../log.ts';
import type { Pool } from '../store/pool.ts';
import { insertFirstAdminKey } from '../store/tenants.ts';
import { generateApiKey, hashApiKey } from './keys.ts';

/**
 * With no ADMIN_API_KEY and a database holding no keys at all, stores a generated operator key and prints it
 * once, to stderr and outside the structured log (which never carries secrets). Later starts find keys and
 * print nothing; the key stays valid until revoked.
 */
export async function ensureOperatorKey(config: Config, pool: Pool, log: Logger): Promise<void> {
  if (config.adminApiKey) return;
  const key = generateApiKey();
  if (!(await insertFirstAdminKey(pool, { id: newId('key'), hash: hashApiKey(key) }))) return;
  log.warn('generated an operator key for this new database; it is printed once on stderr');
  process.stderr.write(
    `\nhookrelay: operator key for this database (shown once; set ADMIN_API_KEY in production):\n\n  ${key}\n\n`,
  );
}
