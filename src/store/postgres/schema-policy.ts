import { sql } from 'drizzle-orm';
import { bigserial, doublePrecision, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ms } from './columns.js';
import { agents } from './schema-agents.js';

/** Policy tables, as `../schema-policy.ts` declares them for SQLite. */

export const permissions = pgTable(
  'permissions',
  {
    id: text('id').primaryKey(),
    agentId: text('agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    resource: text('resource').notNull(),
    actions: text('actions').notNull(),
    effect: text('effect', { enum: ['allow', 'deny'] }).notNull(),
    constraints: text('constraints').notNull(),
    expiresAt: ms('expires_at'),
    createdAt: ms('created_at').notNull(),
    createdBy: text('created_by').notNull(),
  },
  (t) => [index('permissions_agent_idx').on(t.agentId), index('permissions_created_by_idx').on(t.createdBy)],
);

export const delegations = pgTable(
  'delegations',
  {
    id: text('id').primaryKey(),
    parentAgentId: text('parent_agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    childAgentId: text('child_agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    permissions: text('permissions').notNull(),
    maxDepth: integer('max_depth').notNull(),
    startsAt: ms('starts_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
    revokedAt: ms('revoked_at'),
    createdAt: ms('created_at').notNull(),
    createdBy: text('created_by').notNull(),
  },
  (t) => [
    index('delegations_child_idx').on(t.childAgentId),
    index('delegations_parent_idx').on(t.parentAgentId),
    uniqueIndex('delegations_live_child_idx').on(t.childAgentId).where(sql`${t.revokedAt} is null`),
  ],
);

export const budgets = pgTable(
  'budgets',
  {
    id: text('id').primaryKey(),
    scope: text('scope', { enum: ['agent', 'user', 'tenant'] }).notNull(),
    subject: text('subject').notNull(),
    metric: text('metric', { enum: ['calls', 'tokens', 'cost'] }).notNull(),
    limit: doublePrecision('limit_value').notNull(),
    period: text('period', { enum: ['hour', 'day', 'month', 'total'] }).notNull(),
    prices: text('prices'),
    createdAt: ms('created_at').notNull(),
    createdBy: text('created_by').notNull(),
  },
  (t) => [index('budgets_subject_idx').on(t.scope, t.subject), index('budgets_created_by_idx').on(t.createdBy)],
);

export const budgetUsage = pgTable(
  'budget_usage',
  {
    budgetId: text('budget_id')
      .notNull()
      .references(() => budgets.id, { onDelete: 'cascade' }),
    periodStart: ms('period_start').notNull(),
    used: doublePrecision('used').notNull(),
  },
  (t) => [primaryKey({ columns: [t.budgetId, t.periodStart] })],
);

/**
 * `seq` comes from a sequence, which hands out numbers in insert order, not commit order: the
 * Postgres policy repo serialises writers with a transaction-scoped advisory lock so that a
 * poller reading `seq > N` can never skip a change that commits late.
 */
export const policyChanges = pgTable(
  'policy_changes',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    kind: text('kind', { enum: ['agent', 'permission', 'delegation', 'budget'] }).notNull(),
    entityId: text('entity_id').notNull(),
    at: ms('at').notNull(),
  },
  (t) => [index('policy_changes_entity_idx').on(t.kind, t.entityId)],
);
