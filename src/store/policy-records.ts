import type { AgentRow } from './agents-repo.js';

/**
 * Policy rows as the store hands them over, JSON columns already decoded. They hold validated
 * data: only the admin service writes them, after compiling each with `src/policy`.
 */

/** One grant of one agent. `constraints` never carries `expiresAt`: that is its own column. */
export interface PermissionRecord {
  id: string;
  agentId: string;
  resource: string;
  actions: string[];
  effect: 'allow' | 'deny';
  constraints: Record<string, unknown>;
  expiresAt: number | null;
  createdAt: number;
  createdBy: string;
}

/** One delegation link; `permissions` are the normalized grants handed down. */
export interface DelegationRecord {
  id: string;
  parentAgentId: string;
  childAgentId: string;
  permissions: Record<string, unknown>[];
  maxDepth: number;
  startsAt: number;
  expiresAt: number;
  revokedAt: number | null;
  createdAt: number;
  createdBy: string;
}

/** One budget; `prices` maps a resource pattern to what one call of it costs (tokens or cost). */
export interface BudgetRecord {
  id: string;
  scope: 'agent' | 'user' | 'tenant';
  subject: string;
  metric: 'calls' | 'tokens' | 'cost';
  limit: number;
  period: 'hour' | 'day' | 'month' | 'total';
  prices: Record<string, number> | null;
  createdAt: number;
  createdBy: string;
}

/** Spent by one budget in the period starting at `periodStart`. */
export interface BudgetUsageRecord {
  budgetId: string;
  periodStart: number;
  used: number;
}

/** An amount to add to (or, negative, take from) a budget's usage in one period. */
export interface UsageDelta {
  readonly budgetId: string;
  readonly periodStart: number;
  readonly delta: number;
}

/** Which kind of entity a change touched. */
export type PolicyChangeKind = 'agent' | 'permission' | 'delegation' | 'budget';

/** One row of the change log. */
export interface PolicyChangeRecord {
  readonly seq: number;
  readonly kind: PolicyChangeKind;
  readonly entityId: string;
  readonly at: number;
}

/**
 * One write: the entity's full new row, or `null` to delete it. Every write is an upsert of the
 * whole row, so a write replayed (or raced) leaves one consistent row, and the change log needs
 * no diff: a reader reloads the entity.
 */
export type PolicyWrite =
  | { readonly kind: 'agent'; readonly id: string; readonly row: AgentRow | null }
  | { readonly kind: 'permission'; readonly id: string; readonly row: PermissionRecord | null }
  | { readonly kind: 'delegation'; readonly id: string; readonly row: DelegationRecord | null }
  | { readonly kind: 'budget'; readonly id: string; readonly row: BudgetRecord | null };

/** A committed write: the write itself plus its place in the change log. */
export type CommittedChange = PolicyWrite & { readonly seq: number; readonly at: number };
