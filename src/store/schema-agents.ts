import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Agents: the acting identity behind a token. An `interactive` agent is created when a user
 * consents for a client (one per user and client); an `autonomous` one acts for a machine client
 * (client_credentials, no user); `delegated` agents come with RFC 8693 token exchange.
 * Times are epoch milliseconds.
 */
export const agents = sqliteTable(
  'agents',
  {
    id: text('id').primaryKey(),
    /** The consenting user; null for autonomous agents. */
    userId: text('user_id'),
    clientId: text('client_id').notNull(),
    tenant: text('tenant'),
    name: text('name').notNull(),
    type: text('type', { enum: ['interactive', 'autonomous', 'delegated'] }).notNull(),
    status: text('status', { enum: ['active', 'suspended', 'revoked'] }).notNull(),
    expiresAt: integer('expires_at'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('agents_user_client_idx').on(t.userId, t.clientId), index('agents_client_idx').on(t.clientId)],
);
