import { parseArgs } from 'node:util';
import { COMMON_OPTIONS, type CliCommand } from './command.js';
import { COLUMNS, parseJsonOption, parseList, parseWhen, positionals, printPolicyRows, withPolicyAdmin } from './policy-context.js';

const USAGE = 'grant <agent> <resource> [--actions call,read] [--deny] [--constraints JSON] [--expires WHEN] [--id ID]';

/**
 * `portcullis grant <agent> <resource> …`: validated and compiled exactly as the admin API does
 * it, so a bad pattern or constraint is refused here (exit 1, the field named), never at call time.
 */
export const grantCommand: CliCommand = {
  name: 'grant',
  summary: 'grant <agent> <resource> [--actions …] [--deny] [--constraints JSON] [--expires WHEN]   grant a permission',
  async run(argv) {
    const { values, positionals: args } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...COMMON_OPTIONS,
        actions: { type: 'string' },
        deny: { type: 'boolean', default: false },
        constraints: { type: 'string' },
        expires: { type: 'string' },
        id: { type: 'string' },
      },
    });
    const [agentId, resource] = positionals(args, 2, USAGE);
    const constraints = parseJsonOption('constraints', values.constraints);
    return withPolicyAdmin(values.config, async (admin) => {
      const row = await admin.grant({
        id: values.id,
        agentId,
        resource,
        actions: parseList(values.actions),
        effect: values.deny === true ? 'deny' : 'allow',
        constraints,
        expiresAt: parseWhen(values.expires, Date.now()),
      });
      printPolicyRows([row], COLUMNS.permission, values.json === true);
      return 0;
    });
  },
};
