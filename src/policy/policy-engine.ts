import type { BudgetLedger } from './budget-ledger.js';
import { createDecisionCache } from './decision-cache.js';
import { decide, type DecideDeps } from './decide.js';
import { explain, type Explanation } from './explain.js';
import { listCallableTools, listPermitted } from './list-tools.js';
import type { PolicyIndex } from './policy-index.js';
import { createRateLimiter, type RateLimiter } from './rate-limiter.js';
import type { StaticDecision } from './static-decision.js';
import type { Decision, PolicyAction, PolicyRequest } from './types.js';

/** What `createPolicyEngine` needs; only `index` and `now` are required. */
export interface PolicyEngineOptions {
  /** Agents, grants, delegations and budgets; keep it current by applying every saved change. */
  readonly index: PolicyIndex;
  /** The clock, in epoch ms. Injected so policy never reads time by itself. */
  readonly now: () => number;
  /** Where budgets are reserved; omit or `null` to not enforce budgets. */
  readonly ledger?: BudgetLedger | null;
  /** Rate counters; a fresh in-memory limiter by default. */
  readonly rates?: RateLimiter;
  /** Decision-cache entries (one per agent × action × server × tool in use). */
  readonly cacheSize?: number;
}

/** The decision engine the gateway holds: one per process. */
export interface PolicyEngine {
  readonly index: PolicyIndex;
  readonly rates: RateLimiter;
  readonly ledger: BudgetLedger | null;
  /** Decides a call and, if allowed, spends its rate and budget. Never throws. */
  decide(request: PolicyRequest): Decision;
  /** The decision with its rule path, spending nothing. */
  explain(request: PolicyRequest): Explanation;
  /** The subset of `tools` the agent may call on `server`, for filtering `tools/list`. */
  listCallableTools(agentId: string, server: string, tools: readonly string[]): string[];
  /** The subset of `targets` the agent may `action` on `server` (`read` resources, `get` prompts), for filtering lists. */
  listPermitted(agentId: string, action: PolicyAction, server: string, targets: readonly string[]): string[];
  /** Entries in the decision cache (for metrics). */
  cacheSize(): number;
}

/** Builds the engine; bad options fail here, at start-up, not on the first call. */
export function createPolicyEngine(options: PolicyEngineOptions): PolicyEngine {
  if (typeof options.now !== 'function') throw new TypeError('createPolicyEngine: now must be a function returning epoch ms');
  if (options.index === undefined) throw new TypeError('createPolicyEngine: index is required');
  const cache = createDecisionCache<StaticDecision>({ max: options.cacheSize ?? 100_000 });
  const rates = options.rates ?? createRateLimiter();
  const ledger = options.ledger ?? null;
  let requestCounter = 0;
  const deps: DecideDeps = {
    directory: options.index,
    cache,
    rates,
    ledger,
    now: options.now,
    // A NUL prefix keeps generated keys apart from any key a gateway would build.
    newRequestKey: () => `\u0000auto:${++requestCounter}`,
  };
  return {
    index: options.index,
    rates,
    ledger,
    decide: (request) => decide(deps, request),
    explain: (request) => explain(deps, request),
    listCallableTools: (agentId, server, tools) => listCallableTools(deps, agentId, server, tools),
    listPermitted: (agentId, action, server, targets) => listPermitted(deps, agentId, action, server, targets),
    cacheSize: () => cache.size,
  };
}
