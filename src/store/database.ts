// Chooses the Postgres to use: DATABASE_URL when set, otherwise the embedded one under HOOKRELAY_DATA_DIR.
import type { Config } from '../config/config.ts';
import type { Logger } from '../log.ts';
import { startEmbeddedPostgres } from './embedded-postgres.ts';

export interface Database {
  url: string;
  stop(): Promise<void>;
}

export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  if (config.databaseUrl) return { url: config.databaseUrl, stop: async () => {} };
  return startEmbeddedPostgres(config.dataDir, log);
}
