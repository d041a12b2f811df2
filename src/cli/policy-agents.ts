import { parseArgs } from 'node:util';
import { CliError, type CliCommand, COMMON_OPTIONS } from './command.js';
import { COLUMNS, parseWhen, positionals, printJson, printPolicyRows, withPolicyAdmin } from './policy-context.js';

const USAGE = 'agents list|show|create|suspend|activate|revoke|delete …';

/**
 * `portcullis agents list [--user U] [--tenant T] [--status S]`,
 * `agents show <id>`, `agents create <name> [--id ID] [--type autonomous|delegated] [--user U]
 * [--tenant T] [--client-id C] [--expires WHEN]`, `agents suspend|activate|revoke|delete <id>`.
 */
export const agentsCommand: CliCommand = {
  name: 'agents',
  summary: 'agents list|show|create|suspend|activate|revoke|delete   manage agents',
  async run(argv) {
    const [sub, ...rest] = argv;
    const { values, positionals: args } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        ...COMMON_OPTIONS,
        id: { type: 'string' },
        type: { type: 'string' },
        user: { type: 'string' },
        tenant: { type: 'string' },
        status: { type: 'string' },
        'client-id': { type: 'string' },
        expires: { type: 'string' },
      },
    });
    const json = values.json === true;
    return withPolicyAdmin(values.config, async (admin) => {
      switch (sub) {
        case 'list': {
          positionals(args, 0, 'agents list [--user U] [--tenant T] [--status S]');
          const status = values.status as 'active' | 'suspended' | 'revoked' | undefined;
          if (status !== undefined && !['active', 'suspended', 'revoked'].includes(status)) {
            throw new CliError('--status must be active, suspended or revoked');
          }
          printPolicyRows(await admin.listAgents({ userId: values.user, tenant: values.tenant, status }), COLUMNS.agent, json);
          return 0;
        }
        case 'show': {
          const [id] = positionals(args, 1, 'agents show <id>');
          const agent = await admin.getAgent(id);
          const permissions = await admin.listPermissions({ agentId: id });
          if (json) printJson({ ...agent, permissions });
          else {
            printPolicyRows([agent], COLUMNS.agent, false);
            process.stdout.write('\n');
            printPolicyRows(permissions, COLUMNS.permission, false);
          }
          return 0;
        }
        case 'create': {
          const [name] = positionals(args, 1, 'agents create <name> [--type autonomous|delegated] [--user U] [--tenant T]');
          const agent = await admin.createAgent({
            id: values.id,
            name,
            type: values.type,
            userId: values.user,
            tenant: values.tenant,
            clientId: values['client-id'],
            expiresAt: parseWhen(values.expires, Date.now()),
          });
          printPolicyRows([agent], COLUMNS.agent, json);
          return 0;
        }
        case 'suspend':
        case 'activate':
        case 'revoke': {
          const [id] = positionals(args, 1, `agents ${sub} <id>`);
          const agent = sub === 'suspend' ? await admin.suspendAgent(id) : sub === 'activate' ? await admin.activateAgent(id) : await admin.revokeAgent(id);
          printPolicyRows([agent], COLUMNS.agent, json);
          return 0;
        }
        case 'delete': {
          const [id] = positionals(args, 1, 'agents delete <id>');
          await admin.deleteAgent(id);
          if (json) printJson({ deleted: id });
          else process.stdout.write(`deleted agent ${id} with its grants, delegations and budgets\n`);
          return 0;
        }
        default:
          throw new CliError(sub === undefined ? `missing subcommand; usage: portcullis ${USAGE}` : `unknown subcommand "${sub}"; usage: portcullis ${USAGE}`);
      }
    });
  },
};
