import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { agents } from './schema-agents.js';

/**
 * Policy tables: what agents may do (permissions), what they hand down (delegations), what they
 * may spend (budgets, budget_usage), and the change log other processes poll to keep their
 * in-memory policy index current (policy_changes). Times are epoch milliseconds.
 *
 * Kept dialect-neutral for the Postgres port: JSON lives in text columns (jsonb there), no
 * SQLite-only types, and every write goes through `policy-repo.ts` together with its change row.
 * Only the admin service (`src/admin`) writes here; the gateway reads at start and on changes.
 */

/**
 * Grants of an agent: `resource` is `mcp:{server}:{tool}` (`*` one segment, `**` the rest).
 * `constraints` is the validated constraint object without `expiresAt`, which has its own column
 * so expired grants can be found (and later swept) by an index.
 */
export const permissions = sqliteTable(
  'permissions',
  {
    id: text('id').primaryKey(),
    agentId: text('agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    resource: text('resource').notNull(),
    /** JSON array of `call` | `read` | `get` | `list`. */
    actions: text('actions').notNull(),
    effect: text('effect', { enum: ['allow', 'deny'] }).notNull(),
    /** JSON object (`maxCallsPerHour`, `args`, `timeWindow`, `ipAllowlist`, …); `{}` for none. */
    constraints: text('constraints').notNull(),
    expiresAt: integer('expires_at'),
    createdAt: integer('created_at').notNull(),
    /** Who saved it: `api`, `cli:<user>`, `config` (declared grants are reconciled by this). */
    createdBy: text('created_by').notNull(),
  },
  (t) => [index('permissions_agent_idx').on(t.agentId), index('permissions_created_by_idx').on(t.createdBy)],
);

/**
 * Delegation links (RFC 8693 token exchange): the parent hands the child the grants in
 * `permissions`, already checked to be covered by the parent's chain when saved. Revoking keeps
 * the row with `revoked_at` set, so a denial can say the link was revoked.
 */
export const delegations = sqliteTable(
  'delegations',
  {
    id: text('id').primaryKey(),
    parentAgentId: text('parent_agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    childAgentId: text('child_agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    /** JSON array of normalized permissions (each with its own id). */
    permissions: text('permissions').notNull(),
    maxDepth: integer('max_depth').notNull(),
    startsAt: integer('starts_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at'),
    createdAt: integer('created_at').notNull(),
    createdBy: text('created_by').notNull(),
  },
  (t) => [
    index('delegations_child_idx').on(t.childAgentId),
    index('delegations_parent_idx').on(t.parentAgentId),
    // One live link per child (a chain must be unambiguous): enforced by the database too, so two
    // admins racing (API and CLI) cannot both succeed. Postgres supports the same partial index.
    uniqueIndex('delegations_live_child_idx').on(t.childAgentId).where(sql`${t.revokedAt} is null`),
  ],
);

/** Budgets: a cap on `metric` per `period` for one agent, user or tenant (`scope` + `subject`). */
export const budgets = sqliteTable(
  'budgets',
  {
    id: text('id').primaryKey(),
    scope: text('scope', { enum: ['agent', 'user', 'tenant'] }).notNull(),
    subject: text('subject').notNull(),
    metric: text('metric', { enum: ['calls', 'tokens', 'cost'] }).notNull(),
    /** `limit` is reserved in SQL; a plain name saves quoting in every hand-written query. */
    limit: real('limit_value').notNull(),
    period: text('period', { enum: ['hour', 'day', 'month', 'total'] }).notNull(),
    /** Optional JSON `{ "mcp:server:tool pattern": amount }`: per-tool price for tokens/cost. */
    prices: text('prices'),
    createdAt: integer('created_at').notNull(),
    createdBy: text('created_by').notNull(),
  },
  (t) => [index('budgets_subject_idx').on(t.scope, t.subject), index('budgets_created_by_idx').on(t.createdBy)],
);

/**
 * What a budget has spent in one period, so spending survives a restart. `period_start` is the
 * period's first instant in UTC (0 for `total`). Rows of past periods are history, never read back.
 */
export const budgetUsage = sqliteTable(
  'budget_usage',
  {
    budgetId: text('budget_id')
      .notNull()
      .references(() => budgets.id, { onDelete: 'cascade' }),
    periodStart: integer('period_start').notNull(),
    used: real('used').notNull(),
  },
  (t) => [primaryKey({ columns: [t.budgetId, t.periodStart] })],
);

/**
 * One row per saved change, in commit order. A gateway remembers the last `seq` it applied and
 * reloads just the entities named after it: this is how a change made by another process (the
 * CLI, another admin) reaches a running gateway's index.
 */
export const policyChanges = sqliteTable(
  'policy_changes',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    kind: text('kind', { enum: ['agent', 'permission', 'delegation', 'budget'] }).notNull(),
    entityId: text('entity_id').notNull(),
    at: integer('at').notNull(),
  },
  (t) => [index('policy_changes_entity_idx').on(t.kind, t.entityId)],
);
