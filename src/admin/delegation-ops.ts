import { validateDelegation, type PolicyInputError } from '../policy/index.js';
import type { DelegationRecord } from '../store/policy-records.js';
import type { AdminContext, ChangeOptions } from './admin-context.js';
import { AdminError, invalidInput, notFound } from './admin-error.js';
import { delegateInputSchema, parseInput } from './admin-inputs.js';
import { loadChainScope } from './chain-scope.js';

/** A delegation ends; without `expiresAt` it gets this long (then clamped to its parent's end). */
export const DEFAULT_DELEGATION_TTL_MS = 7 * 24 * 3_600_000;

/** A saved delegation, and whether its window was narrowed to fit inside the parent's. */
export type DelegationResult = DelegationRecord & { readonly clamped: boolean };

/**
 * Delegates a subset of the parent's permissions to a `delegated` child agent. Checked against
 * the store (not a cached view) by `validateDelegation`, with the same matcher that decides calls:
 * no self-delegation, no cycle, depth counted from the chain's root, every handed-down allow
 * covered at every hop of the parent's chain (a wider pattern or an action the parent lacks is an
 * escalation and is refused), and the link's window clamped inside the parent's validity.
 */
export async function delegate(ctx: AdminContext, input: unknown, options?: ChangeOptions): Promise<DelegationResult> {
  const parsed = parseInput(delegateInputSchema, input);
  if (!parsed.ok) throw invalidInput('delegation', parsed.errors);
  const d = parsed.value;
  const id = d.id ?? ctx.newId('dlg');
  if ((await ctx.repo.getDelegation(id)) !== undefined) throw new AdminError('CONFLICT', `delegation ${id} already exists`);
  const shorthand = d.resources !== undefined;
  const permissions = shorthand
    ? d.resources!.map((resource, i) => ({ id: `${id}.${i}`, resource, actions: d.actions ?? ['call'] }))
    : d.permissions!.map((p, i) => ({ ...p, id: p.id ?? `${id}.${i}` }));
  const now = ctx.now();
  const scope = await loadChainScope(ctx.repo, [d.parentAgentId, d.childAgentId]);
  const result = validateDelegation(
    {
      id,
      parentAgentId: d.parentAgentId,
      childAgentId: d.childAgentId,
      maxDepth: d.maxDepth,
      expiresAt: d.expiresAt ?? now + DEFAULT_DELEGATION_TTL_MS,
      permissions,
    },
    scope.index,
    now,
  );
  if (!result.ok) throw invalidInput('delegation', shorthand ? result.errors.map(toShorthandPath) : result.errors);
  const record: DelegationRecord = {
    ...result.row,
    permissions: result.row.permissions.map((p) => structuredClone(p) as Record<string, unknown>),
    revokedAt: null,
    createdAt: now,
    createdBy: ctx.actor(options),
  };
  await ctx.commit([{ kind: 'delegation', id, row: record }]);
  return { ...record, clamped: result.clamped };
}

/** `permissions[2].resource` → `resources[2]` when the caller used the shorthand. */
function toShorthandPath(e: PolicyInputError): PolicyInputError {
  const m = /^permissions\[(\d+)\](?:\.(\w+))?(.*)$/.exec(e.path);
  if (m === null) return e;
  if (m[2] === undefined || m[2] === 'resource') return { path: `resources[${m[1]}]${m[3]}`, message: e.message };
  if (m[2] === 'actions') return { path: `actions${m[3]}`, message: e.message };
  return e;
}

/** A delegation, or 404. */
export async function getDelegation(ctx: AdminContext, id: string): Promise<DelegationRecord> {
  const row = await ctx.repo.getDelegation(id);
  if (row === undefined) throw notFound('delegation', id);
  return row;
}

/** Delegations, optionally from one parent or to one child. */
export function listDelegations(ctx: AdminContext, filter: { parentAgentId?: string; childAgentId?: string } = {}): Promise<DelegationRecord[]> {
  return ctx.repo.listDelegations(filter);
}

/**
 * Revokes a link. The row stays with `revokedAt` set, so calls by the child (and by everything
 * delegated below it, whose chains run through this link) are refused with a reason that says
 * so, from the next call on.
 */
export async function revokeDelegation(ctx: AdminContext, id: string): Promise<DelegationRecord> {
  const row = await getDelegation(ctx, id);
  if (row.revokedAt !== null) return row;
  const revoked: DelegationRecord = { ...row, revokedAt: ctx.now() };
  await ctx.commit([{ kind: 'delegation', id, row: revoked }]);
  return revoked;
}

/** Deletes a link (revoke first if you want denials to say "revoked" rather than "no delegation"). */
export async function deleteDelegation(ctx: AdminContext, id: string): Promise<void> {
  await getDelegation(ctx, id);
  await ctx.commit([{ kind: 'delegation', id, row: null }]);
}
