import { parseArgs } from 'node:util';
import type { ExplainResult } from '../admin/explain-ops.js';
import { CliError, type CliCommand, COMMON_OPTIONS } from './command.js';
import { parseJsonOption, printJson, withPolicyAdmin } from './policy-context.js';

const USAGE = 'explain <agent> <server>.<tool> [--args JSON] [--ip IP] [--action call|read|get|list]';

/**
 * `portcullis explain bot github.create_issue --args '{"repo":"acme/web"}'`: the decision the
 * policy gives that call now, and the rule path behind it. Exit 0 whatever the decision (the
 * decision is the output); `--json` for scripts.
 */
export const explainCommand: CliCommand = {
  name: 'explain',
  summary: 'explain <agent> <server>.<tool> [--args JSON] [--ip IP]   why a call would be allowed or denied',
  async run(argv) {
    const { values, positionals: args } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...COMMON_OPTIONS,
        args: { type: 'string' },
        ip: { type: 'string' },
        action: { type: 'string', default: 'call' },
      },
    });
    if (args.length !== 2) throw new CliError(`expected an agent and a target; usage: portcullis ${USAGE}`);
    const [agent, target] = args;
    // Server names never contain ".", tool names may: split at the first dot.
    const dot = target.indexOf('.');
    if (dot <= 0 || dot === target.length - 1) throw new CliError(`target must be <server>.<tool>, got "${target}"`);
    const callArgs = parseJsonOption('args', values.args);
    return withPolicyAdmin(values.config, async (admin) => {
      const result = await admin.explain({ agent, server: target.slice(0, dot), tool: target.slice(dot + 1), args: callArgs, ip: values.ip, action: values.action });
      if (values.json === true) printJson(result);
      else process.stdout.write(describe(result, target));
      return 0;
    });
  },
};

/** The explanation for a person: verdict, chain, each hop's grants, budgets. */
function describe(r: ExplainResult, target: string): string {
  const d = r.decision;
  const lines = [d.allow ? `ALLOW  ${target} (grants ${d.grantIds.join(', ')})` : `DENY   ${target}: ${d.code}\n       ${d.reason}`];
  lines.push(`chain  ${r.agents.map((a) => ('missing' in a ? `${a.id} (missing)` : `${a.id} [${a.status}]`)).join(' → ')}`);
  for (const hop of r.hops) {
    lines.push(`hop ${hop.hop}  ${hop.owner}: allows ${hop.allows.join(', ') || '-'}; denies ${hop.denies.join(', ') || '-'}`);
    for (const v of hop.verdicts) lines.push(`       ${v.grantId} ${v.resource}: ${v.outcome}${v.detail === null ? '' : ` (${v.detail})`}`);
  }
  for (const b of r.budgets) lines.push(`budget ${b.budget.id}: ${b.spent} of ${b.budget.limit} ${b.budget.metric} used (${b.budget.period})`);
  if (!r.live) lines.push('note   answered from the store: rate-limit counters live in the gateway and are not shown');
  return `${lines.join('\n')}\n`;
}
