// `hookrelay tenants` and `hookrelay keys`: the operator's commands (they need the operator key).
import { type Command, Option } from 'commander';
import { printList, withPaging } from '../client/lists.ts';
import { printJson, printRecord, say } from '../client/output.ts';
import { action, session } from '../client/session.ts';

interface Tenant {
  id: string;
  name: string;
  createdAt: string;
}

export function tenantCommands(program: Command): void {
  const tenants = program.command('tenants').description('create and list tenants (operator key)');
  tenants
    .command('create <name>')
    .description('create a tenant; its API key and signing secret are shown this once')
    .addHelpText('after', '\nExample:\n  $ hookrelay tenants create acme --key $ADMIN_KEY')
    .action(
      action(async (name: string, _options: object, command: Command) => {
        const s = session(command);
        const created = await s.api.call<Tenant & { apiKey: string; signingSecret: string }>(
          'POST',
          '/v1/admin/tenants',
          { body: { name } },
        );
        if (s.json) return printJson(created);
        printRecord(created);
        say('Keep the apiKey and signingSecret now: they are not shown again.');
      }),
    );
  withPaging(tenants.command('list').description('list tenants, newest first'))
    .addHelpText('after', '\nExample:\n  $ hookrelay tenants list --all --key $ADMIN_KEY')
    .action(
      action(async (options, command: Command) => {
        await printList<Tenant>(session(command), '/v1/admin/tenants', {}, options, [
          ['id', (t) => t.id],
          ['name', (t) => t.name],
          ['created', (t) => t.createdAt],
        ]);
      }),
    );

  const keys = program.command('keys').description("issue and revoke a tenant's API keys (operator key)");
  keys
    .command('create <tenantId>')
    .description('issue another API key for a tenant (shown this once; older keys stay valid)')
    .addOption(
      new Option(
        '--role <role>',
        'tenant: the whole tenant API; worker: only /v1/worker/* (for remote workers to claim jobs)',
      ).choices(['tenant', 'worker']),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ hookrelay keys create ten_01J… --key $ADMIN_KEY\n  $ hookrelay keys create ten_01J… --role worker --key $ADMIN_KEY   # for a pulling worker',
    )
    .action(
      action(async (tenantId: string, options: { role?: string }, command: Command) => {
        const s = session(command);
        const key = await s.api.call<{ id: string; apiKey: string }>(
          'POST',
          `/v1/admin/tenants/${encodeURIComponent(tenantId)}/keys`,
          options.role === undefined ? {} : { body: { role: options.role } },
        );
        if (s.json) return printJson(key);
        printRecord(key);
      }),
    );
  keys
    .command('revoke <tenantId> <keyId>')
    .description("revoke one of a tenant's keys at once, on every API process")
    .addHelpText('after', '\nExample:\n  $ hookrelay keys revoke ten_01J… key_01J… --key $ADMIN_KEY')
    .action(
      action(async (tenantId: string, keyId: string, _options: object, command: Command) => {
        const s = session(command);
        await s.api.call(
          'DELETE',
          `/v1/admin/tenants/${encodeURIComponent(tenantId)}/keys/${encodeURIComponent(keyId)}`,
        );
        if (s.json) return printJson({ revoked: keyId });
        say(`revoked ${keyId}`);
      }),
    );
}
