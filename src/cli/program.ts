// The `hookrelay` command's definition: `serve` (the default) runs the service, `migrate` prepares the database;
// the other commands are an operator's client of a running service, through its public API only. Built by a
// function so that its help texts can be read without running it (test/cli/help.test.ts). The service's own
// modules are loaded only by the commands that run it: a client command starts in a quarter of the time (0.3 s instead of 1.1 here).
import { Command } from 'commander';
import { VERSION } from '../version.ts';
import { withConnection } from './client/session.ts';
import { deadLetterCommands } from './commands/dead-letters.ts';
import { endpointCommands } from './commands/endpoints.ts';
import { jobTypeCommands } from './commands/job-types.ts';
import { jobCommands } from './commands/jobs.ts';
import { listenCommand } from './commands/listen.ts';
import { messageCommands } from './commands/messages.ts';
import { scheduleCommands } from './commands/schedules.ts';
import { tenantCommands } from './commands/tenants.ts';

export function hookrelayProgram(): Command {
  const program = new Command('hookrelay')
    .version(VERSION)
    .description(
      'Webhook delivery service: durable jobs, signed callbacks, retries, dead letters and replay.',
    )
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nClient commands talk to a running service: --url (HOOKRELAY_URL, default http://127.0.0.1:3000) and\n--key (HOOKRELAY_API_KEY). Add --json for scripts. Example:\n  $ HOOKRELAY_API_KEY=hr_… hookrelay dead-letters list --since 24h',
    );

  program
    .command('serve', { isDefault: true })
    .description(
      'run the HTTP API and/or workers, as HOOKRELAY_ROLE says (configuration comes from the environment)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ hookrelay serve                                   # everything, on an embedded Postgres\n  $ hookrelay serve --tasks ./tasks                   # with your own job types\n  $ DATABASE_URL=postgres://… HOOKRELAY_ROLE=worker hookrelay serve',
    )
    .option(
      '--tasks <dir>',
      'load the task modules in this folder: your own job types (env HOOKRELAY_TASKS_DIR)',
    )
    .action(async (options: { tasks?: string }) => {
      const [{ serve }, { exitWith }] = await Promise.all([import('./serve.ts'), import('./report.ts')]);
      // The option is the variable's other spelling: config is parsed in one place, from the environment.
      if (options.tasks !== undefined) process.env.HOOKRELAY_TASKS_DIR = options.tasks;
      await serve().catch(exitWith);
    });

  program
    .command('migrate')
    .description('apply database migrations (ours and pg-boss) and exit')
    .addHelpText(
      'after',
      '\nExample:\n  $ hookrelay migrate   # with DATABASE_URL set, before rolling out a new version',
    )
    .action(async () => {
      const [{ migrateCommand }, { exitWith }] = await Promise.all([
        import('./migrate.ts'),
        import('./report.ts'),
      ]);
      await migrateCommand().then(() => process.exit(0), exitWith);
    });

  program
    .command('openapi [file]')
    .description(
      "write the HTTP API's OpenAPI document (as GET /openapi.json serves it) to the file or stdout, without a database",
    )
    .addHelpText('after', '\nExample:\n  $ hookrelay openapi docs/openapi.json')
    .action(async (file?: string) => {
      const [{ writeOpenApi }, { exitWith }] = await Promise.all([
        import('../http/openapi-document.ts'),
        import('./report.ts'),
      ]);
      await writeOpenApi(file).catch(exitWith);
    });

  withConnection(program);
  tenantCommands(program);
  endpointCommands(program);
  jobCommands(program);
  jobTypeCommands(program);
  scheduleCommands(program);
  messageCommands(program);
  deadLetterCommands(program);
  listenCommand(program);
  return program;
}
