import { pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { ms } from './columns.js';

/** Tool pins, as `../schema-tools.ts` declares them for SQLite. */

export const toolPins = pgTable(
  'tool_pins',
  {
    server: text('server').notNull(),
    tool: text('tool').notNull(),
    hash: text('hash').notNull(),
    definition: text('definition').notNull(),
    pendingHash: text('pending_hash'),
    pendingDefinition: text('pending_definition'),
    pendingSince: ms('pending_since'),
    approvedAt: ms('approved_at').notNull(),
    approvedBy: text('approved_by').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.server, t.tool] })],
);
