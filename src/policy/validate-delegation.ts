import type { CompiledPermission } from './compile-permission.js';
import {
  compileDelegation,
  resolveChain,
  type ChainHop,
  type CompiledDelegation,
  type DelegationDirectory,
} from './delegation.js';
import { formatPath, type NormalizedPermission, type PolicyInputError } from './permission-schema.js';
import { POLICY_ACTIONS, ACTION_BIT, type PolicyAgent } from './types.js';

/** The row to persist after validation: times clamped, grants normalized. */
export interface DelegationRow {
  readonly id: string;
  readonly parentAgentId: string;
  readonly childAgentId: string;
  readonly maxDepth: number;
  readonly startsAt: number;
  readonly expiresAt: number;
  readonly revokedAt: null;
  readonly permissions: readonly NormalizedPermission[];
}

/** The link to save (clamped) and its row, or every reason it is refused. */
export type ValidateDelegationResult =
  | {
      readonly ok: true;
      readonly delegation: CompiledDelegation;
      readonly row: DelegationRow;
      /** True when `startsAt`/`expiresAt` were narrowed to fit inside the parent's validity. */
      readonly clamped: boolean;
    }
  | { readonly ok: false; readonly errors: readonly PolicyInputError[] };

/**
 * Checks a new delegation link before it is saved: no self-delegation, no cycle, depth within
 * the root link's `maxDepth`, the child expiring no later than its parent (the window is clamped,
 * not refused), and every delegated allow covered at every hop of the parent's chain by the same
 * matcher that decides calls (`GrantSet.matching`), and not wholly denied there. Looser
 * constraints on a delegated grant are accepted but inert: every hop's constraints apply at
 * call time, so the stricter one always wins.
 */
export function validateDelegation(input: unknown, directory: DelegationDirectory, now: number): ValidateDelegationResult {
  const withStart =
    typeof input === 'object' && input !== null && (input as { startsAt?: unknown }).startsAt === undefined
      ? { ...input, startsAt: now }
      : input;
  const compiled = compileDelegation(withStart);
  if (!compiled.ok) return compiled;
  const d = compiled.compiled;
  const errors: PolicyInputError[] = [];
  const err = (path: string, message: string) => errors.push({ path, message });

  if (d.revokedAt !== null) err('revokedAt', 'a delegation being created cannot already be revoked');
  if (d.parentAgentId === d.childAgentId) {
    err('childAgentId', 'an agent cannot delegate to itself');
    return { ok: false, errors };
  }
  const parent = directory.agent(d.parentAgentId);
  const child = directory.agent(d.childAgentId);
  const agentProblem = (a: PolicyAgent) =>
    a.status !== 'active' ? `is ${a.status}` : a.expiresAt !== null && now >= a.expiresAt ? 'has expired' : null;
  if (parent === undefined) err('parentAgentId', `agent ${d.parentAgentId} does not exist`);
  else if (agentProblem(parent) !== null) err('parentAgentId', `agent ${parent.id} ${agentProblem(parent)}`);
  if (child === undefined) err('childAgentId', `agent ${d.childAgentId} does not exist`);
  else if (child.type !== 'delegated') err('childAgentId', `agent ${child.id} is ${child.type}; only delegated agents receive delegations`);
  else if (agentProblem(child) !== null) err('childAgentId', `agent ${child.id} ${agentProblem(child)}`);
  const other = directory.delegationsTo(d.childAgentId).find((l) => l.revokedAt === null && l.id !== d.id);
  if (other !== undefined) err('childAgentId', `agent ${d.childAgentId} already holds delegation ${other.id}; revoke it first`);
  if (errors.length > 0) return { ok: false, errors };

  const resolved = resolveChain(directory, d.parentAgentId);
  if (!resolved.ok) return { ok: false, errors: [{ path: 'parentAgentId', message: `the parent's chain is not valid: ${resolved.detail}` }] };
  const chain = resolved.chain;
  if (chain.agentIds.includes(d.childAgentId)) {
    return { ok: false, errors: [{ path: 'childAgentId', message: `agent ${d.childAgentId} is an ancestor of ${d.parentAgentId}; that would be a cycle` }] };
  }
  const position = chain.links.length; // index of the new link in the chain
  if (position + 1 > chain.depthLimit) {
    err('maxDepth', `the chain from agent ${chain.agentIds[0]} allows ${chain.depthLimit} link(s); this would be link ${position + 1}`);
  }

  // The child lives inside the parent's validity: [latest start, earliest expiry] of the chain
  // and of every agent on it.
  let parentEnd = chain.notAfter;
  for (const id of chain.agentIds) {
    const expiresAt = directory.agent(id)?.expiresAt ?? null;
    if (expiresAt !== null && expiresAt < parentEnd) parentEnd = expiresAt;
  }
  const startsAt = Math.max(d.startsAt, chain.notBefore);
  const expiresAt = Math.min(d.expiresAt, parentEnd);
  if (expiresAt <= now) err('expiresAt', 'the delegation would already be expired');
  else if (startsAt >= expiresAt) err('startsAt', 'the delegation would end before it starts');

  let i = 0;
  for (const grant of d.grants.values()) {
    if (grant.effect === 'allow') checkCovered(grant, i, chain.hops, now, err);
    i++;
  }
  if (errors.length > 0) return { ok: false, errors };

  const delegation: CompiledDelegation = Object.freeze({ ...d, startsAt, expiresAt });
  const row: DelegationRow = Object.freeze({
    id: d.id,
    parentAgentId: d.parentAgentId,
    childAgentId: d.childAgentId,
    maxDepth: d.maxDepth,
    startsAt,
    expiresAt,
    revokedAt: null,
    permissions: Object.freeze([...d.grants.values()].map((g) => g.source)),
  });
  return { ok: true, delegation, row, clamped: startsAt !== d.startsAt || expiresAt !== d.expiresAt };
}

/** Every action of `grant` must be allowed, and not wholly denied, at every hop of the parent. */
function checkCovered(
  grant: CompiledPermission,
  index: number,
  hops: readonly ChainHop[],
  now: number,
  err: (path: string, message: string) => void,
): void {
  const path = formatPath(['permissions', index, 'resource']);
  for (const action of POLICY_ACTIONS) {
    const bit = ACTION_BIT[action];
    if ((grant.actionMask & bit) === 0) continue;
    for (const hop of hops) {
      const where = hop.label === '' ? 'the parent' : hop.label;
      const m = hop.grants.matching(bit, grant.pattern.segments);
      const deny = m.denies.find((g) => now < g.expiresAt);
      if (deny !== undefined) {
        err(path, `${grant.resource} (${action}) is denied in ${where} by grant ${deny.id}`);
        return;
      }
      if (!m.allows.some((g) => now < g.expiresAt)) {
        err(path, `${grant.resource} (${action}) is wider than what ${where} allows`);
        return;
      }
    }
  }
}
