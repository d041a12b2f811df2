import type { BudgetRecord, DelegationRecord, PermissionRecord } from './policy-records.js';
import type { budgets, delegations, permissions } from './schema-policy.js';

/**
 * Policy records ↔ table rows: JSON columns are text here (jsonb on Postgres). A column that does
 * not parse decodes to a value the policy compiler refuses, so a damaged row grants nothing
 * instead of stopping the load.
 */

type PermissionRow = typeof permissions.$inferSelect;
type DelegationRow = typeof delegations.$inferSelect;
type BudgetRow = typeof budgets.$inferSelect;

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { unreadable: text };
  }
}

/** Record → row. */
export function encodePermission(r: PermissionRecord): PermissionRow {
  return { ...r, actions: JSON.stringify(r.actions), constraints: JSON.stringify(r.constraints) };
}

/** Row → record. */
export function decodePermission(row: PermissionRow): PermissionRecord {
  return {
    ...row,
    actions: parseJson(row.actions) as string[],
    constraints: parseJson(row.constraints) as Record<string, unknown>,
  };
}

/** Record → row. */
export function encodeDelegation(r: DelegationRecord): DelegationRow {
  return { ...r, permissions: JSON.stringify(r.permissions) };
}

/** Row → record. */
export function decodeDelegation(row: DelegationRow): DelegationRecord {
  return { ...row, permissions: parseJson(row.permissions) as Record<string, unknown>[] };
}

/** Record → row. */
export function encodeBudget(r: BudgetRecord): BudgetRow {
  return { ...r, prices: r.prices === null ? null : JSON.stringify(r.prices) };
}

/** Row → record. */
export function decodeBudget(row: BudgetRow): BudgetRecord {
  return { ...row, prices: parseJson(row.prices) as Record<string, number> | null };
}
