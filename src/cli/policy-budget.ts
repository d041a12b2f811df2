import { parseArgs } from 'node:util';
import { CliError, type CliCommand, COMMON_OPTIONS } from './command.js';
import { COLUMNS, parseJsonOption, positionals, printJson, printPolicyRows, withPolicyAdmin } from './policy-context.js';

const USAGE = 'budget set <scope> <subject> <limit> [--metric calls|tokens|cost] [--period hour|day|month|total] [--prices JSON] | show [<scope> [<subject>]] | delete <id>';

/**
 * `portcullis budget set agent bot 100 --period day` creates or updates (one budget per scope,
 * subject, metric and period); `budget show` lists budgets with what each has spent this period
 * (as last persisted by the gateway); `budget delete <id>`.
 */
export const budgetCommand: CliCommand = {
  name: 'budget',
  summary: 'budget set|show|delete …   set and inspect budgets',
  async run(argv) {
    const [sub, ...rest] = argv;
    const { values, positionals: args } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        ...COMMON_OPTIONS,
        metric: { type: 'string', default: 'calls' },
        period: { type: 'string', default: 'day' },
        prices: { type: 'string' },
        id: { type: 'string' },
      },
    });
    const json = values.json === true;
    switch (sub) {
      case 'set': {
        const [scope, subject, limitText] = positionals(args, 3, USAGE);
        const limit = Number(limitText);
        if (limitText.trim() === '' || !Number.isFinite(limit)) throw new CliError(`limit must be a number, got "${limitText}"`, 1);
        const prices = parseJsonOption('prices', values.prices);
        return withPolicyAdmin(values.config, async (admin) => {
          const budget = await admin.setBudget({ id: values.id, scope, subject, metric: values.metric, limit, period: values.period, prices });
          printPolicyRows([budget], COLUMNS.budget, json);
          return 0;
        });
      }
      case 'show': {
        if (args.length > 2) throw new CliError(`unexpected argument "${args[2]}"; usage: portcullis ${USAGE}`);
        const [scope, subject] = args;
        if (scope !== undefined && !['agent', 'user', 'tenant'].includes(scope)) throw new CliError('scope must be agent, user or tenant');
        return withPolicyAdmin(values.config, async (admin) => {
          printPolicyRows(await admin.listBudgets({ scope: scope as 'agent' | undefined, subject }), COLUMNS.budget, json);
          return 0;
        });
      }
      case 'delete': {
        const [id] = positionals(args, 1, 'budget delete <id>');
        return withPolicyAdmin(values.config, async (admin) => {
          await admin.deleteBudget(id);
          if (json) printJson({ deleted: id });
          else process.stdout.write(`deleted budget ${id}\n`);
          return 0;
        });
      }
      default:
        throw new CliError(sub === undefined ? `missing subcommand; usage: portcullis ${USAGE}` : `unknown subcommand "${sub}"; usage: portcullis ${USAGE}`);
    }
  },
};
