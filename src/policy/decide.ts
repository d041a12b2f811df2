import { chargesFor, describeShortfall } from './budget.js';
import type { BudgetLedger } from './budget-ledger.js';
import type { DecisionCache } from './decision-cache.js';
import { denial } from './deny-reason.js';
import { evaluateCall } from './evaluate-call.js';
import type { RateLimiter, RateRule } from './rate-limiter.js';
import { staticDecisionFor, type PolicyDirectory, type StaticDecision } from './static-decision.js';
import type { Decision, PolicyRequest, Reservation } from './types.js';

/** What a decision reads and spends. `createPolicyEngine` assembles it. */
export interface DecideDeps {
  readonly directory: PolicyDirectory;
  readonly cache: DecisionCache<StaticDecision>;
  readonly rates: RateLimiter;
  /** `null`: budgets are not enforced (no reservation is made). */
  readonly ledger: BudgetLedger | null;
  readonly now: () => number;
  /** Key for a request that came without `requestKey` (it then cannot be deduplicated). */
  readonly newRequestKey: () => string;
}

/**
 * Decides one call. Never throws: an unexpected error becomes `internal_error`, which refuses
 * (a policy engine that fails open is no policy engine). Spending happens only for an allowed
 * call, and all at once at the end: budgets are reserved, then rate limits counted, so a call
 * refused for any reason has spent nothing.
 */
export function decide(deps: DecideDeps, request: PolicyRequest): Decision {
  try {
    return decideOrThrow(deps, request);
  } catch (cause) {
    return denial('internal_error', safeTarget(request), 'internal error while evaluating the policy', cause);
  }
}

// hot path: one LRU lookup, Map lookups per chain agent, comparisons on compiled grants.
function decideOrThrow(deps: DecideDeps, request: PolicyRequest): Decision {
  const now = deps.now();
  const entry = staticDecisionFor(deps.directory, deps.cache, request);
  const outcome = evaluateCall(entry, request, now, deps.directory, deps.rates);
  if (!outcome.ok) return denial(outcome.code, request, outcome.detail);

  let reservation: Reservation | null = null;
  let replayed = false;
  if (deps.ledger !== null && entry.budgets.length > 0) {
    const held = deps.ledger.reserve(request.requestKey ?? deps.newRequestKey(), chargesFor(entry.budgets, request), now);
    if (!held.ok) return denial('budget_exhausted', request, describeShortfall(held));
    reservation = held.reservation;
    replayed = held.replayed;
  }

  const grants = outcome.grants;
  // A retried request was counted the first time; counting it again would punish the retry.
  if (!replayed) {
    let rules: RateRule[] | null = null;
    for (const g of grants) if (g.rates.length > 0) (rules ??= []).push(...g.rates);
    if (rules !== null && !deps.rates.tryConsume(rules, now)) {
      // Peeked and consumed in one synchronous step, so this is reached only when two hops share
      // a rate key (grant ids reused across owners): exact either way.
      if (reservation !== null) deps.ledger?.refund(reservation);
      return denial('rate_limited', request, 'rate limit reached');
    }
  }
  if (outcome === entry.primary && reservation === null && entry.primaryAllow !== null) return entry.primaryAllow;
  const grantIds: string[] = [];
  for (const g of grants) grantIds.push(g.id);
  return { allow: true, grantIds, chain: entry.agentIds, reservation };
}

/** The request's target for a denial message, even when the request itself is malformed. */
function safeTarget(request: PolicyRequest): Pick<PolicyRequest, 'action' | 'server' | 'tool'> {
  const r = (typeof request === 'object' && request !== null ? request : {}) as Partial<PolicyRequest>;
  return { action: r.action ?? 'call', server: String(r.server ?? '?'), tool: String(r.tool ?? '?') };
}
