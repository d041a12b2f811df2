import { parseArgs } from 'node:util';
import { CliError, type CliCommand, COMMON_OPTIONS } from './command.js';
import { COLUMNS, parseList, parseWhen, printPolicyRows, withPolicyAdmin } from './policy-context.js';

const USAGE = 'delegate <parent> <child> <resource…> [--actions call] [--max-depth N] [--expires WHEN] [--id ID]';

/**
 * `portcullis delegate <parent> <child> <resource…>`: hands the (delegated) child agent the given
 * patterns out of the parent's permissions. Refused with the reason when it would widen them,
 * form a cycle or exceed the root's depth; the expiry is clamped to the parent's.
 */
export const delegateCommand: CliCommand = {
  name: 'delegate',
  summary: 'delegate <parent> <child> <resource…> [--max-depth N] [--expires WHEN]   delegate a subset',
  async run(argv) {
    const { values, positionals: args } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...COMMON_OPTIONS,
        actions: { type: 'string' },
        'max-depth': { type: 'string' },
        expires: { type: 'string' },
        id: { type: 'string' },
      },
    });
    if (args.length < 3) throw new CliError(`missing argument(s); usage: portcullis ${USAGE}`);
    const [parentAgentId, childAgentId, ...resources] = args;
    let maxDepth: number | undefined;
    if (values['max-depth'] !== undefined) {
      maxDepth = Number(values['max-depth']);
      if (!Number.isInteger(maxDepth)) throw new CliError(`--max-depth must be an integer, got "${values['max-depth']}"`);
    }
    return withPolicyAdmin(values.config, async (admin) => {
      const link = await admin.delegate({
        id: values.id,
        parentAgentId,
        childAgentId,
        resources,
        actions: parseList(values.actions),
        maxDepth,
        expiresAt: parseWhen(values.expires, Date.now()),
      });
      if (link.clamped && values.json !== true) process.stderr.write("portcullis: the delegation's window was narrowed to fit inside its parent's\n");
      printPolicyRows([link], [...COLUMNS.delegation, 'clamped'], values.json === true);
      return 0;
    });
  },
};
