import { budgetsForChain, type BudgetDirectory } from './budget.js';
import type { CompiledPermission } from './compile-permission.js';
import { decisionKey, type DecisionCache } from './decision-cache.js';
import { resolveChain, type DelegationChain, type DelegationDirectory } from './delegation.js';
import { targetSegments } from './resource-pattern.js';
import { ACTION_BIT, type Allow, type CompiledBudget, type DenialCode, type PolicyAction, type PolicyAgent } from './types.js';

/**
 * The cacheable part of a decision: everything that depends only on the grants version and on
 * (agent, action, server, tool). Agent status, time, arguments, address, rates and budgets are
 * not in here; they are checked on every call against this entry.
 */
export interface StaticDecision {
  /** Agents from the chain's root to the caller; their status is read on every call. */
  readonly agentIds: readonly string[];
  /** A refusal that no per-call fact can change (no grant, explicit deny, broken chain). */
  readonly failure: { readonly code: DenialCode; readonly detail: string } | null;
  readonly chain: DelegationChain | null;
  /** Matching grants per hop, root first, narrowest first within a hop. */
  readonly hops: readonly HopMatch[];
  /** Matching denies that lapse at some instant; a deny without expiry is in `failure`. */
  readonly timedDenies: readonly CompiledPermission[];
  /** Budgets a call spends from: every chain agent's, owner's and tenant's. */
  readonly budgets: readonly CompiledBudget[];
  /**
   * The usual outcome, built once: the narrowest allow chosen at every hop. When a call ends
   * that way and holds no reservation, `decide` returns `primaryAllow` itself (frozen), so a
   * cached allow allocates nothing but its cache key.
   */
  readonly primary: { readonly ok: true; readonly grants: readonly CompiledPermission[] } | null;
  readonly primaryAllow: Allow | null;
}

/** Grants matching the target at one hop. */
export interface HopMatch {
  /** Empty for the root's own grants, else the delegation link. */
  readonly label: string;
  readonly allows: readonly CompiledPermission[];
  readonly denies: readonly CompiledPermission[];
}

/** Everything the static part reads: agents, grants, links, budgets and the grants version. */
export type PolicyDirectory = DelegationDirectory & BudgetDirectory & { readonly version: number };

/** Target of a decision as the static part sees it. */
export interface StaticTarget {
  readonly agentId: string;
  readonly action: PolicyAction;
  readonly server: string;
  readonly tool: string;
}

/** Looks the static part up in the cache, computing it on a miss. */
// hot path: one key concatenation and one LRU lookup when cached.
export function staticDecisionFor(directory: PolicyDirectory, cache: DecisionCache<StaticDecision>, t: StaticTarget): StaticDecision {
  const key = decisionKey(directory.version, t.agentId, t.action, t.server, t.tool);
  let entry = cache.get(key);
  if (entry === undefined) {
    entry = buildStaticDecision(directory, t);
    cache.set(key, entry);
  }
  return entry;
}

const within = (label: string) => (label === '' ? '' : ` in ${label}`);

/** Computes the static part: resolves the chain and matches grants at every hop. */
export function buildStaticDecision(directory: PolicyDirectory, t: StaticTarget): StaticDecision {
  const fail = (agentIds: readonly string[], code: DenialCode, detail: string): StaticDecision =>
    Object.freeze({ agentIds, failure: { code, detail }, chain: null, hops: [], timedDenies: [], budgets: [], primary: null, primaryAllow: null });
  // The server is one segment of the pattern; a ':' in it would let it pose as another server.
  if (t.server === '' || t.server.includes(':') || t.tool === '') {
    return fail([t.agentId], 'no_permission', 'server and tool names must be non-empty and the server has no ":"');
  }
  const resolved = resolveChain(directory, t.agentId);
  if (!resolved.ok) return fail(resolved.agentIds, resolved.code, resolved.detail);
  const chain = resolved.chain;
  const target = targetSegments(t.server, t.tool);
  const resource = `mcp:${t.server}:${t.tool}`;
  const bit = ACTION_BIT[t.action] ?? 0;

  const hops: HopMatch[] = chain.hops.map((hop) => ({ label: hop.label, ...hop.grants.matching(bit, target) }));
  const timedDenies: CompiledPermission[] = [];
  let failure: StaticDecision['failure'] = null;
  // Deny wins: every hop's denies are looked at before any allow.
  for (const hop of hops) {
    for (const deny of hop.denies) {
      if (deny.expiresAt !== Number.POSITIVE_INFINITY) timedDenies.push(deny);
      else failure ??= { code: 'no_permission', detail: `${resource} is denied by ${deny.resource}${within(hop.label)}` };
    }
  }
  if (failure === null) {
    const bare = hops.find((hop) => hop.allows.length === 0);
    const action = t.action === 'call' ? '' : ` (${t.action})`;
    if (bare !== undefined) failure = { code: 'no_permission', detail: `no permission ${resource}${action}${within(bare.label)}` };
  }
  const agents = chain.agentIds.map((id) => directory.agent(id)).filter((a): a is PolicyAgent => a !== undefined);
  const primaryGrants = failure === null ? Object.freeze(hops.map((hop) => hop.allows[0])) : null;
  return Object.freeze({
    agentIds: chain.agentIds,
    failure,
    chain,
    hops,
    timedDenies,
    budgets: failure === null ? budgetsForChain(directory, agents) : [],
    primary: primaryGrants === null ? null : Object.freeze({ ok: true as const, grants: primaryGrants }),
    primaryAllow:
      primaryGrants === null
        ? null
        : Object.freeze({ allow: true as const, grantIds: Object.freeze(primaryGrants.map((g) => g.id)), chain: chain.agentIds, reservation: null }),
  });
}
