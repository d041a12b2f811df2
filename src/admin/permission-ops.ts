import { compilePermission } from '../policy/index.js';
import type { PermissionRecord } from '../store/policy-records.js';
import type { AdminContext, ChangeOptions } from './admin-context.js';
import { AdminError, invalidInput, notFound } from './admin-error.js';
import { grantInputSchema, parseInput } from './admin-inputs.js';
import { permissionRecordFrom } from './compile-records.js';

/** Options of `grant`. */
export interface GrantOptions extends ChangeOptions {
  /** Replace a grant with the same id instead of refusing (declared config re-applies this way). */
  readonly replace?: boolean;
}

/**
 * Grants a permission. The input is compiled by `compilePermission` before anything is saved:
 * a bad pattern, a regex that could backtrack, an unknown constraint or a bad CIDR is refused
 * here with the field named, so no grant that could fail at call time is ever stored.
 */
export async function grant(ctx: AdminContext, input: unknown, options: GrantOptions = {}): Promise<PermissionRecord> {
  const parsed = parseInput(grantInputSchema, input);
  if (!parsed.ok) throw invalidInput('grant', parsed.errors);
  const g = parsed.value;
  const agent = await ctx.repo.getAgent(g.agentId);
  if (agent === undefined) throw new AdminError('NOT_FOUND', 'unknown agent', [{ path: 'agentId', message: `agent ${g.agentId} does not exist` }]);
  if (agent.status === 'revoked') throw new AdminError('CONFLICT', `agent ${agent.id} is revoked; it cannot receive grants`);
  if (agent.type === 'delegated') {
    throw invalidInput('grant', [
      { path: 'agentId', message: `agent ${agent.id} is delegated: it acts only on what its delegation hands down (grant to its parent and delegate)` },
    ]);
  }
  const id = g.id ?? ctx.newId('perm');
  const existing = await ctx.repo.getPermission(id);
  if (existing !== undefined && options.replace !== true) throw new AdminError('CONFLICT', `permission ${id} already exists`);

  const constraints: Record<string, unknown> = { ...(g.constraints ?? {}) };
  if (g.expiresAt !== undefined) {
    if (constraints.expiresAt !== undefined) throw invalidInput('grant', [{ path: 'expiresAt', message: 'give expiresAt or constraints.expiresAt, not both' }]);
    constraints.expiresAt = g.expiresAt;
  }
  const compiled = compilePermission({ id, resource: g.resource, actions: g.actions ?? ['call'], effect: g.effect, constraints });
  if (!compiled.ok) throw invalidInput('grant', compiled.errors);
  const now = ctx.now();
  if (compiled.compiled.expiresAt <= now) {
    throw invalidInput('grant', [{ path: g.expiresAt !== undefined ? 'expiresAt' : 'constraints.expiresAt', message: 'the grant would already be expired' }]);
  }
  const row = permissionRecordFrom(compiled.compiled.source, {
    agentId: agent.id,
    createdAt: existing?.createdAt ?? now,
    createdBy: ctx.actor(options),
  });
  await ctx.commit([{ kind: 'permission', id, row }]);
  return row;
}

/** A grant, or 404. */
export async function getPermission(ctx: AdminContext, id: string): Promise<PermissionRecord> {
  const row = await ctx.repo.getPermission(id);
  if (row === undefined) throw notFound('permission', id);
  return row;
}

/** Grants, optionally of one agent. */
export function listPermissions(ctx: AdminContext, filter: { agentId?: string } = {}): Promise<PermissionRecord[]> {
  return ctx.repo.listPermissions(filter);
}

/**
 * Revokes (deletes) a grant. The index drops it in the same tick (admin API) or within one poll
 * (CLI), and the version bump retires every cached decision that relied on it.
 */
export async function revokePermission(ctx: AdminContext, id: string): Promise<PermissionRecord> {
  const row = await getPermission(ctx, id);
  await ctx.commit([{ kind: 'permission', id, row: null }]);
  return row;
}
