import {
  compileBudget,
  compileDelegation,
  compilePermission,
  createMemoryBudgetLedger,
  createPolicyEngine,
  createPolicyIndex,
  type BudgetInput,
  type CompiledPermission,
  type DelegationInput,
  type PermissionInput,
  type PolicyAgent,
} from '../../src/policy/index.js';

/** Shared builders for the policy tests: compile-or-throw, and a whole engine from a small spec. */

export const T0 = Date.UTC(2025, 0, 6, 12, 0); // Monday 2025-01-06 12:00 UTC

export function grant(input: PermissionInput): CompiledPermission {
  const r = compilePermission(input);
  if (!r.ok) throw new Error(`grant ${input.id} does not compile: ${JSON.stringify(r.errors)}`);
  return r.compiled;
}

export function agent(id: string, over: Partial<PolicyAgent> = {}): PolicyAgent {
  return { id, ownerUser: `user-${id}`, tenant: 't1', name: id, type: 'interactive', status: 'active', expiresAt: null, ...over };
}

export interface PolicySpec {
  agents?: PolicyAgent[];
  /** agentId → grants */
  grants?: Record<string, PermissionInput[]>;
  delegations?: DelegationInput[];
  budgets?: BudgetInput[];
  now?: number;
}

/** Builds index + engine + ledger with a settable clock. Delegations are loaded as rows (no validation). */
export function buildPolicy(spec: PolicySpec) {
  const clock = { now: spec.now ?? T0 };
  const index = createPolicyIndex();
  for (const a of spec.agents ?? []) index.putAgent(a);
  for (const [agentId, list] of Object.entries(spec.grants ?? {})) for (const g of list) index.putPermission(agentId, grant(g));
  for (const d of spec.delegations ?? []) {
    const r = compileDelegation(d);
    if (!r.ok) throw new Error(`delegation ${d.id}: ${JSON.stringify(r.errors)}`);
    index.putDelegation(r.compiled);
  }
  for (const b of spec.budgets ?? []) {
    const r = compileBudget(b);
    if (!r.ok) throw new Error(`budget ${b.id}: ${JSON.stringify(r.errors)}`);
    index.putBudget(r.compiled);
  }
  const ledger = createMemoryBudgetLedger();
  const engine = createPolicyEngine({ index, now: () => clock.now, ledger, cacheSize: 1000 });
  return { clock, index, ledger, engine };
}

/** A tools/call request. */
export function call(agentId: string, server: string, tool: string, extra: Record<string, unknown> = {}) {
  return { agentId, action: 'call' as const, server, tool, ...extra };
}
