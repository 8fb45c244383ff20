// How the command reports a failure: a plain sentence for mistakes an operator can fix, a stack for bugs.
import { ConfigError } from '../config/config.ts';
import { isDatabaseUnavailable } from '../errors.ts';
import { MigrationError } from '../store/migrate.ts';

export function exitWith(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`hookrelay: ${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof MigrationError) {
    process.stderr.write(`hookrelay: ${error.message}\n`);
    process.exit(1);
  }
  if (isDatabaseUnavailable(error)) {
    process.stderr.write(
      `hookrelay: cannot reach the database (${(error as Error).message}); check DATABASE_URL\n`,
    );
    process.exit(1);
  }
  process.stderr.write(
    `hookrelay: unexpected error\n${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
}
