import { createPolicyEngine, type Decision, type Explanation, type PolicyAction } from '../policy/index.js';
import type { AdminContext } from './admin-context.js';
import { invalidInput } from './admin-error.js';
import { explainInputSchema, parseInput } from './admin-inputs.js';
import { requireAgent } from './agent-ops.js';
import { loadChainScope } from './chain-scope.js';
import { createStoreBudgetLedger, type UsageSeed } from './store-budget-ledger.js';
import { currentPeriodStart } from './usage-sink.js';

/** An explanation, serialisable, with where its counters came from. */
export type ExplainResult = Omit<Explanation, 'decision'> & {
  readonly decision: Decision;
  /**
   * `true`: the running gateway's own index, rate counters and budget ledger answered.
   * `false` (CLI): the store answered; budgets are as last persisted and rate limits are not
   * known (their counters live in the gateway's memory), so they are shown as passing.
   */
  readonly live: boolean;
};

/**
 * Explains a hypothetical call: the decision and the rule path (agents, chain, grants tried at
 * each hop and what became of each, budgets). Spends nothing.
 */
export async function explainCall(ctx: AdminContext, input: unknown): Promise<ExplainResult> {
  const parsed = parseInput(explainInputSchema, input);
  if (!parsed.ok) throw invalidInput('explain request', parsed.errors);
  const e = parsed.value;
  await requireAgent(ctx, e.agent);
  const request = { agentId: e.agent, action: e.action as PolicyAction, server: e.server, tool: e.tool, args: e.args, ip: e.ip };
  let explanation: Explanation;
  let live: boolean;
  if (ctx.engine !== null) {
    explanation = ctx.engine.explain(request);
    live = true;
  } else {
    const now = ctx.now();
    const scope = await loadChainScope(ctx.repo, [e.agent]);
    const seed: UsageSeed[] = [];
    for (const budget of scope.budgets) {
      const used = (await ctx.repo.getUsage(budget.id, currentPeriodStart(budget.period, now)))?.used ?? 0;
      if (used > 0) seed.push({ budget, used });
    }
    // Explain only peeks, so the ledger's sink never hears anything.
    const ledger = createStoreBudgetLedger({ sink: { record: () => undefined }, seed, now });
    explanation = createPolicyEngine({ index: scope.index, now: ctx.now, ledger, cacheSize: 16 }).explain(request);
    live = false;
  }
  // `cause` is for the gateway's log, never for a reply.
  const { decision } = explanation;
  const safe: Decision = decision.allow ? decision : { allow: false, code: decision.code, reason: decision.reason };
  return { ...explanation, decision: safe, live };
}
