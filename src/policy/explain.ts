import { chargesFor, describeShortfall } from './budget.js';
import type { DecideDeps } from './decide.js';
import { denial } from './deny-reason.js';
import { evaluateCall, type GrantVerdict } from './evaluate-call.js';
import { buildStaticDecision } from './static-decision.js';
import type { CompiledBudget, Decision, PolicyAgent, PolicyRequest } from './types.js';

/** The rule path behind a decision, for the admin API. */
export interface Explanation {
  /** What `decide` would answer now (nothing is spent: rates are peeked, budgets not reserved). */
  readonly decision: Decision;
  /** Agents from the root to the caller, as the directory holds them now. */
  readonly agents: readonly (PolicyAgent | { readonly id: string; readonly missing: true })[];
  /** Delegation links, root first, with the chain's validity window and depth limit. */
  readonly chain: {
    readonly links: readonly { id: string; parentAgentId: string; childAgentId: string; maxDepth: number; startsAt: number; expiresAt: number }[];
    readonly notBefore: number;
    readonly notAfter: number;
    readonly depthLimit: number;
  } | null;
  /** Per hop: which grants matched, and what became of each (chosen, failed, not reached). */
  readonly hops: readonly {
    readonly hop: number;
    /** `agent a` for the root's own grants, else the delegation link that narrowed the call. */
    readonly owner: string;
    readonly allows: readonly string[];
    readonly denies: readonly string[];
    readonly verdicts: readonly GrantVerdict[];
  }[];
  readonly budgets: readonly { readonly budget: CompiledBudget; readonly spent: number }[];
}

/**
 * Explains a call: the same static resolution and per-call evaluation as `decide`, recording
 * every grant looked at. It bypasses the cache (admin path; it should neither read a stale
 * entry nor evict hot ones) and spends nothing.
 */
export function explain(deps: DecideDeps, request: PolicyRequest): Explanation {
  const now = deps.now();
  const entry = buildStaticDecision(deps.directory, request);
  const verdicts: GrantVerdict[] = [];
  let decision: Decision;
  try {
    const outcome = evaluateCall(entry, request, now, deps.directory, deps.rates, verdicts);
    if (!outcome.ok) decision = denial(outcome.code, request, outcome.detail);
    else {
      decision = { allow: true, grantIds: outcome.grants.map((g) => g.id), chain: entry.agentIds, reservation: null };
      if (deps.ledger !== null && entry.budgets.length > 0) {
        const peek = deps.ledger.peek(chargesFor(entry.budgets, request), now);
        if (!peek.ok) decision = denial('budget_exhausted', request, describeShortfall(peek));
      }
    }
  } catch (cause) {
    decision = denial('internal_error', request, 'internal error while evaluating the policy', cause);
  }
  const chain = entry.chain;
  return {
    decision,
    agents: entry.agentIds.map((id) => deps.directory.agent(id) ?? { id, missing: true as const }),
    chain:
      chain === null
        ? null
        : {
            links: chain.links.map(({ id, parentAgentId, childAgentId, maxDepth, startsAt, expiresAt }) => ({ id, parentAgentId, childAgentId, maxDepth, startsAt, expiresAt })),
            notBefore: chain.notBefore,
            notAfter: chain.notAfter,
            depthLimit: chain.depthLimit,
          },
    hops: entry.hops.map((hop, i) => ({
      hop: i,
      owner: hop.label === '' ? `agent ${entry.agentIds[0]}` : hop.label,
      allows: hop.allows.map((g) => g.id),
      denies: hop.denies.map((g) => g.id),
      verdicts: verdicts.filter((v) => v.hop === i),
    })),
    budgets: entry.budgets.map((budget) => ({ budget, spent: deps.ledger?.spent(budget, now) ?? 0 })),
  };
}
