import { z } from 'zod';
import { compilePermission, type CompileResult } from './compile-permission.js';
import { createGrantSet, type GrantSet } from './grant-set.js';
import { formatPath, zodErrors, type PolicyInputError } from './permission-schema.js';
import type { DenialCode, PolicyAgent } from './types.js';

/**
 * Delegation (RFC 8693 token exchange, the chain carried in nested `act` claims): agent A hands
 * agent B a subset of its permissions. A link carries its own grants; B's effective permissions
 * are never stored, they are the intersection computed along the chain at decision time, so a
 * parent that loses a permission takes it from every descendant at the next call.
 */

/** Longest chain ever followed, whatever the links say: a backstop against corrupt rows. */
export const MAX_CHAIN_LENGTH = 16;

/** Input schema of one delegation link (the store row, grants embedded). */
export const delegationInputSchema = z.strictObject({
  id: z.string().min(1).max(128),
  parentAgentId: z.string().min(1),
  childAgentId: z.string().min(1),
  /** Links allowed in the whole chain; the root link's value is the ceiling for every descendant. */
  maxDepth: z.number().int().min(1).max(MAX_CHAIN_LENGTH),
  /** Epoch ms; `validateDelegation` fills in `now`, a loaded row without it is valid from 0. */
  startsAt: z.number().int().nonnegative().optional(),
  expiresAt: z.number().int().nonnegative(),
  revokedAt: z.number().int().nonnegative().nullable().default(null),
  /** Grants handed down (compiled with `compilePermission`); they can only narrow the parent's. */
  permissions: z.array(z.unknown()).min(1).max(256),
});

/** A delegation link as the admin API and the store hand it over. */
export type DelegationInput = z.input<typeof delegationInputSchema>;

/** A delegation link ready for chain resolution. */
export interface CompiledDelegation {
  readonly id: string;
  readonly parentAgentId: string;
  readonly childAgentId: string;
  readonly maxDepth: number;
  readonly startsAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  readonly grants: GrantSet;
}

/** Checks a link's shape and compiles its grants (no chain rules: see `validateDelegation`). */
export function compileDelegation(input: unknown): CompileResult<CompiledDelegation> {
  const parsed = delegationInputSchema.safeParse(input);
  if (!parsed.success) return { ok: false, errors: zodErrors(parsed.error) };
  const d = parsed.data;
  const errors: PolicyInputError[] = [];
  const grants = createGrantSet();
  d.permissions.forEach((p, i) => {
    const compiled = compilePermission(p);
    if (!compiled.ok) {
      for (const e of compiled.errors) errors.push({ path: joinPath(formatPath(['permissions', i]), e.path), message: e.message });
    } else if (grants.get(compiled.compiled.id) !== undefined) {
      errors.push({ path: formatPath(['permissions', i, 'id']), message: `duplicate grant id "${compiled.compiled.id}"` });
    } else {
      grants.put(compiled.compiled);
    }
  });
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    compiled: Object.freeze({
      id: d.id,
      parentAgentId: d.parentAgentId,
      childAgentId: d.childAgentId,
      maxDepth: d.maxDepth,
      startsAt: d.startsAt ?? 0,
      expiresAt: d.expiresAt,
      revokedAt: d.revokedAt,
      grants,
    }),
  };
}

function joinPath(prefix: string, rest: string): string {
  return rest === '' ? prefix : rest.startsWith('[') ? prefix + rest : `${prefix}.${rest}`;
}

/** What chain resolution and the decision path read; the policy index implements it. */
export interface DelegationDirectory {
  agent(id: string): PolicyAgent | undefined;
  grantsOf(agentId: string): GrantSet;
  /** Links whose child is `agentId`, revoked ones included (so a denial can say "revoked"). */
  delegationsTo(agentId: string): readonly CompiledDelegation[];
}

/** One step whose grants a call must pass: the root agent's own grants, then each link's. */
export interface ChainHop {
  /** Empty for the root's own grants, `delegation d1 (a → b)` for a link. */
  readonly label: string;
  readonly grants: GrantSet;
}

/** A resolved chain, root first. */
export interface DelegationChain {
  /** Agent ids from the root to the caller. */
  readonly agentIds: readonly string[];
  /** `links[i]` goes from `agentIds[i]` to `agentIds[i + 1]`. */
  readonly links: readonly CompiledDelegation[];
  readonly hops: readonly ChainHop[];
  /** The chain is valid in [notBefore, notAfter): latest link start, earliest link expiry. */
  readonly notBefore: number;
  readonly notAfter: number;
  /** Most links this chain may have; the root link's maxDepth, lowered by any link below it. */
  readonly depthLimit: number;
}

/** A resolved chain, or why the agent's chain grants nothing (with the agents walked so far). */
export type ChainResolution =
  | { readonly ok: true; readonly chain: DelegationChain }
  | { readonly ok: false; readonly code: DenialCode; readonly detail: string; readonly agentIds: readonly string[] };

/** [latest start, earliest expiry] of a set of links; [-∞, +∞) for none. */
export function chainWindow(links: readonly Pick<CompiledDelegation, 'startsAt' | 'expiresAt'>[]): { notBefore: number; notAfter: number } {
  let notBefore = Number.NEGATIVE_INFINITY;
  let notAfter = Number.POSITIVE_INFINITY;
  for (const l of links) {
    if (l.startsAt > notBefore) notBefore = l.startsAt;
    if (l.expiresAt < notAfter) notAfter = l.expiresAt;
  }
  return { notBefore, notAfter };
}

/**
 * Walks from `agentId` up its live incoming links to the root. An agent with no live link is a
 * root and acts on its own grants, except a `delegated` agent, which has none of its own. Fails
 * closed on a revoked link, a cycle, two live links into one agent, or a chain over its depth.
 */
export function resolveChain(directory: DelegationDirectory, agentId: string): ChainResolution {
  const upward: string[] = [agentId];
  const links: CompiledDelegation[] = [];
  const fail = (code: DenialCode, detail: string): ChainResolution => ({ ok: false, code, detail, agentIds: [...upward].reverse() });
  let current = agentId;
  for (;;) {
    const incoming = directory.delegationsTo(current);
    const live = incoming.filter((l) => l.revokedAt === null);
    if (live.length === 0) {
      if (incoming.length > 0) return fail('delegation_expired', `delegation ${incoming[0].id} to agent ${current} was revoked`);
      if (directory.agent(current)?.type === 'delegated') return fail('no_permission', `delegated agent ${current} has no delegation`);
      break;
    }
    if (live.length > 1) return fail('delegation_expired', `agent ${current} has ${live.length} live delegations; the chain is ambiguous`);
    const link = live[0];
    if (upward.includes(link.parentAgentId)) return fail('delegation_expired', `delegation ${link.id} closes a cycle`);
    if (links.length >= MAX_CHAIN_LENGTH) return fail('delegation_expired', `delegation chain is longer than ${MAX_CHAIN_LENGTH}`);
    links.push(link);
    upward.push(link.parentAgentId);
    current = link.parentAgentId;
  }
  const agentIds = upward.reverse();
  links.reverse();
  let depthLimit = Number.POSITIVE_INFINITY;
  // Link i may allow at most i + maxDepth links in total: the root's value caps everyone below.
  links.forEach((l, i) => (depthLimit = Math.min(depthLimit, i + l.maxDepth)));
  if (links.length > depthLimit) {
    return fail('delegation_expired', `delegation chain has ${links.length} links, more than its maxDepth ${depthLimit}`);
  }
  const hops: ChainHop[] = [{ label: '', grants: directory.grantsOf(agentIds[0]) }];
  links.forEach((l) => hops.push({ label: `delegation ${l.id} (${l.parentAgentId} → ${l.childAgentId})`, grants: l.grants }));
  return {
    ok: true,
    chain: Object.freeze({ agentIds, links, hops, ...chainWindow(links), depthLimit }),
  };
}
