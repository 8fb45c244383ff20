#!/usr/bin/env -S node --max-semi-space-size=4
// The `hookrelay` command: `serve` (the default) runs the service, `migrate` prepares the database.
import { Command } from 'commander';
import { VERSION } from '../version.ts';
import { migrateCommand } from './migrate.ts';
import { exitWith } from './report.ts';
import { serve } from './serve.ts';

const program = new Command('hookrelay')
  .version(VERSION)
  .description('Webhook delivery service: durable jobs, signed callbacks, retries, dead letters and replay.')
  .showHelpAfterError();

program
  .command('serve', { isDefault: true })
  .description(
    'run the HTTP API and/or workers, as HOOKRELAY_ROLE says (configuration comes from the environment)',
  )
  .action(() => serve().catch(exitWith));

program
  .command('migrate')
  .description('apply database migrations (ours and pg-boss) and exit')
  .action(() => migrateCommand().then(() => process.exit(0), exitWith));

await program.parseAsync();
