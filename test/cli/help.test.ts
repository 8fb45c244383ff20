// Every client command has --help with an example. Read in this process from the command's definition (what
// `hookrelay … --help` prints), so a new command is checked without being listed here.
import type { Command } from 'commander';
import t from 'tap';
import { hookrelayProgram } from '../../src/cli/program.ts';
import { BUILT_IN } from '../../src/jobs/job-types.ts';

/** The commands an operator runs (no subcommands of their own), by their full names. */
function leaves(command: Command, names: string[] = []): Array<[string, Command]> {
  if (command.commands.length === 0) return [[names.join(' '), command]];
  return command.commands.flatMap((sub) => leaves(sub, [...names, sub.name()]));
}

/** The help as `--help` prints it: the description, usage, options and the text added after them. */
function helpOf(command: Command): string {
  let text = '';
  command.configureOutput({ writeOut: (chunk) => (text += chunk) });
  command.outputHelp();
  return text;
}

const commands = leaves(hookrelayProgram());

t.ok(commands.length >= 30, `${commands.length} commands`);
for (const name of [
  'serve',
  'migrate',
  'tenants create',
  'endpoints rotate',
  'jobs watch',
  'job-types put',
  'schedules show',
  'dead-letters replay',
  'listen',
])
  t.ok(
    commands.some(([found]) => found === name),
    `${name} is among them`,
  );
for (const [name, command] of commands)
  t.match(helpOf(command), /Examples?:\n\s+\$ hookrelay /, `${name} --help shows an example`);

t.test('the help names the URL a command will call', async (t) => {
  const jobsList = (program: Command) =>
    program.commands.find((c) => c.name() === 'jobs')?.commands.find((c) => c.name() === 'list') as Command;
  t.match(helpOf(jobsList(hookrelayProgram())), /default: http:\/\/127\.0\.0\.1:3000\)/);
  const before = process.env.HOOKRELAY_URL;
  process.env.HOOKRELAY_URL = 'https://hooks.example.com';
  t.teardown(() => {
    if (before === undefined) delete process.env.HOOKRELAY_URL;
    else process.env.HOOKRELAY_URL = before;
  });
  const help = helpOf(jobsList(hookrelayProgram())).replace(/\s+/g, ' ');
  t.match(help, 'default: https://hooks.example.com, from HOOKRELAY_URL');
  t.notMatch(help, '127.0.0.1:3000', 'not the default it does not use');
});

t.test('jobs submit --help names every built-in type and how to list the service’s own', async (t) => {
  const jobs = hookrelayProgram().commands.find((c) => c.name() === 'jobs') as Command;
  const help = helpOf(jobs.commands.find((c) => c.name() === 'submit') as Command);
  for (const handler of BUILT_IN) t.match(help, handler.type, handler.type);
  t.match(help, 'hookrelay job-types list');
});
