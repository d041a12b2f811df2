import { index, pgTable, text } from 'drizzle-orm/pg-core';
import { ms } from './columns.js';

/** Agents, as `../schema-agents.ts` declares them for SQLite. */

export const agents = pgTable(
  'agents',
  {
    id: text('id').primaryKey(),
    userId: text('user_id'),
    clientId: text('client_id').notNull(),
    tenant: text('tenant'),
    name: text('name').notNull(),
    type: text('type', { enum: ['interactive', 'autonomous', 'delegated'] }).notNull(),
    status: text('status', { enum: ['active', 'suspended', 'revoked'] }).notNull(),
    expiresAt: ms('expires_at'),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [index('agents_user_client_idx').on(t.userId, t.clientId), index('agents_client_idx').on(t.clientId)],
);
