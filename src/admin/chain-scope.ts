import { createPolicyIndex, MAX_CHAIN_LENGTH, policyAgentFromRow, type CompiledBudget, type PolicyIndex } from '../policy/index.js';
import type { PolicyRepo } from '../store/policy-repo.js';
import { applyPolicyChange } from './apply-change.js';
import { compileBudgetRecord } from './compile-records.js';

/** A partial index and the budgets in it. */
export interface ChainScope {
  readonly index: PolicyIndex;
  readonly budgets: readonly CompiledBudget[];
}

/** Most agents one scope loads, whatever the links say (a backstop against corrupt rows). */
const MAX_SCOPE_AGENTS = 4 * MAX_CHAIN_LENGTH;

/**
 * A policy index holding just what decisions about `agentIds` read, straight from the store: each
 * agent, every agent up its delegation chain, their grants, the links into them (revoked ones
 * too, so a denial can say "revoked") and the budgets of each agent, its owner and its tenant.
 *
 * The admin service validates delegations and explains calls on this rather than on a gateway's
 * live index: the store is the truth (another process may have changed it a moment ago), and a
 * CLI has no live index at all. It costs a few indexed queries per agent on the chain, not a
 * load of the whole policy.
 */
export async function loadChainScope(repo: PolicyRepo, agentIds: readonly string[]): Promise<ChainScope> {
  const index = createPolicyIndex();
  const budgets: CompiledBudget[] = [];
  const seen = new Set<string>();
  const budgetSubjects = new Set<string>();
  const queue = [...agentIds];
  while (queue.length > 0 && seen.size < MAX_SCOPE_AGENTS) {
    const id = queue.shift()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const agent = await repo.getAgent(id);
    if (agent === undefined) continue;
    index.putAgent(policyAgentFromRow(agent));
    for (const row of await repo.listPermissions({ agentId: id })) applyPolicyChange(index, { kind: 'permission', id: row.id, row });
    for (const row of await repo.listDelegations({ childAgentId: id })) {
      applyPolicyChange(index, { kind: 'delegation', id: row.id, row });
      if (row.revokedAt === null) queue.push(row.parentAgentId);
    }
    const subjects: ['agent' | 'user' | 'tenant', string | null][] = [
      ['agent', agent.id],
      ['user', agent.userId],
      ['tenant', agent.tenant],
    ];
    for (const [scope, subject] of subjects) {
      if (subject === null || budgetSubjects.has(`${scope}\u0000${subject}`)) continue;
      budgetSubjects.add(`${scope}\u0000${subject}`);
      for (const row of await repo.listBudgets({ scope, subject })) {
        const compiled = compileBudgetRecord(row);
        if (!compiled.ok) continue;
        index.putBudget(compiled.compiled);
        budgets.push(compiled.compiled);
      }
    }
  }
  return { index, budgets };
}
