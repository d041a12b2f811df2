import type { DecideDeps } from './decide.js';
import { checkAgents } from './evaluate-call.js';
import { staticDecisionFor } from './static-decision.js';
import type { PolicyAction } from './types.js';

/**
 * Filters a `tools/list` answer to the tools the agent may call: the agent and its chain are
 * live, and at every hop some unexpired grant allows `call` on the tool with no deny in force.
 * Per-call conditions (arguments, hours, address, rates, budgets, approval) are not applied: a
 * tool callable under some conditions is listed, and a call outside them is refused with its
 * reason. Uses the same cached static entries as `decide`.
 */
export function listCallableTools(deps: DecideDeps, agentId: string, server: string, tools: readonly string[]): string[] {
  return listPermitted(deps, agentId, 'call', server, tools);
}

/**
 * The same filter for any action: the targets (tool names, resource URIs or templates, prompt
 * names) the agent may `action` on `server`, for filtering the list that offers them.
 */
export function listPermitted(deps: DecideDeps, agentId: string, action: PolicyAction, server: string, targets: readonly string[]): string[] {
  const now = deps.now();
  const out: string[] = [];
  for (const tool of targets) {
    const entry = staticDecisionFor(deps.directory, deps.cache, { agentId, action, server, tool });
    if (entry.failure !== null || checkAgents(deps.directory, entry.agentIds, now) !== null) continue;
    const chain = entry.chain;
    if (chain !== null && (now < chain.notBefore || now >= chain.notAfter)) continue;
    if (entry.timedDenies.some((d) => now < d.expiresAt)) continue;
    if (entry.hops.every((hop) => hop.allows.some((g) => now < g.expiresAt))) out.push(tool);
  }
  return out;
}
