// Whether this process can serve: the database answers and every migration this build knows is applied.
import type { Needs } from '../context.ts';
import { pendingMigrations } from '../store/migrate.ts';

/** Why the process is not ready, or undefined when it is. */
export async function notReady(ctx: Needs<'migrations' | 'pool'>): Promise<string | undefined> {
  let pending: string[];
  try {
    pending = await pendingMigrations(ctx.pool, ctx.migrations);
  } catch (error) {
    return `The database is not reachable: ${(error as Error).message}`;
  }
  return pending.length > 0 ? `Migrations not applied yet: ${pending.join(', ')}.` : undefined;
}
