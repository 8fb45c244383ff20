// `hookrelay migrate`: apply our migrations and install pg-boss's schema, then exit.
import { loadConfig } from '../config/config.ts';
import { createLogger } from '../log.ts';
import { createBoss } from '../queue/boss.ts';
import { openDatabase } from '../store/database.ts';
import { loadMigrations, migrate } from '../store/migrate.ts';
import { createPool } from '../store/pool.ts';

export async function migrateCommand(): Promise<void> {
  const config = { ...loadConfig(), role: 'api' as const };
  const log = createLogger(config.logLevel);
  const database = await openDatabase(config, log);
  try {
    const pool = createPool(database.url, 2, log, 'hookrelay-migrate', { queryTimeoutMs: 0 });
    try {
      const applied = await migrate(pool, log, await loadMigrations());
      log.info(
        { applied: applied.length },
        applied.length ? 'migrations applied' : 'database already up to date',
      );
    } finally {
      await pool.end();
    }
    const boss = createBoss(database.url, config, log);
    await boss.start();
    await boss.stop({ graceful: false });
  } finally {
    await database.stop();
  }
}
