import {
  compileBudget,
  compileDelegation,
  compilePermission,
  type CompiledDelegation,
  type CompiledPermission,
  type CompileResult,
  type CompiledBudget,
  type NormalizedPermission,
} from '../policy/index.js';
import type { BudgetRecord, DelegationRecord, PermissionRecord } from '../store/policy-records.js';

/**
 * Store records ↔ policy inputs. The store keeps what `src/policy` normalized when the row was
 * saved; loading compiles it again (cheap, and a row damaged on disk then grants nothing).
 */

/** The permission input a record stands for (`expiresAt` back inside the constraints). */
export function permissionInputFromRecord(r: PermissionRecord): Record<string, unknown> {
  const constraints = r.expiresAt === null ? r.constraints : { ...r.constraints, expiresAt: r.expiresAt };
  return { id: r.id, resource: r.resource, actions: r.actions, effect: r.effect, constraints };
}

/** Compiles a stored grant. */
export function compilePermissionRecord(r: PermissionRecord): CompileResult<CompiledPermission> {
  return compilePermission(permissionInputFromRecord(r));
}

/** The record to save for a compiled grant. */
export function permissionRecordFrom(
  source: NormalizedPermission,
  meta: { agentId: string; createdAt: number; createdBy: string },
): PermissionRecord {
  const { expiresAt, ...constraints } = source.constraints;
  return {
    id: source.id,
    agentId: meta.agentId,
    resource: source.resource,
    actions: [...source.actions],
    effect: source.effect,
    constraints: structuredClone(constraints) as Record<string, unknown>,
    expiresAt: expiresAt ?? null,
    createdAt: meta.createdAt,
    createdBy: meta.createdBy,
  };
}

/** The delegation input a record stands for. */
export function delegationInputFromRecord(r: DelegationRecord): Record<string, unknown> {
  return {
    id: r.id,
    parentAgentId: r.parentAgentId,
    childAgentId: r.childAgentId,
    maxDepth: r.maxDepth,
    startsAt: r.startsAt,
    expiresAt: r.expiresAt,
    revokedAt: r.revokedAt,
    permissions: r.permissions,
  };
}

/** Compiles a stored link (its grants included; chain rules were checked when it was saved). */
export function compileDelegationRecord(r: DelegationRecord): CompileResult<CompiledDelegation> {
  return compileDelegation(delegationInputFromRecord(r));
}

/** The budget input a record stands for (`prices` are not part of the engine's budget). */
export function budgetInputFromRecord(r: BudgetRecord): Record<string, unknown> {
  return { id: r.id, scope: r.scope, subject: r.subject, metric: r.metric, limit: r.limit, period: r.period };
}

/** Compiles a stored budget. */
export function compileBudgetRecord(r: BudgetRecord): CompileResult<CompiledBudget> {
  return compileBudget(budgetInputFromRecord(r));
}

/** JSON with sorted keys, to tell whether two normalized inputs say the same thing. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
