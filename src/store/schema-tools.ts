import { integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Tool pins (rug-pull defence): per (server, tool), the SHA-256 of the approved definition's
 * RFC 8785 canonical JSON, and the definition itself so `portcullis tools diff` can show what
 * changed. A definition the upstream served that differs from the pin waits in `pending_*` until
 * an operator approves it. Times are epoch milliseconds.
 */
export const toolPins = sqliteTable(
  'tool_pins',
  {
    server: text('server').notNull(),
    tool: text('tool').notNull(),
    hash: text('hash').notNull(),
    /** The approved definition's canonical JSON. */
    definition: text('definition').notNull(),
    pendingHash: text('pending_hash'),
    pendingDefinition: text('pending_definition'),
    pendingSince: integer('pending_since'),
    approvedAt: integer('approved_at').notNull(),
    /** `first-seen` (trust on first use), or who approved it (`cli:alice`). */
    approvedBy: text('approved_by').notNull(),
    /** Bumped on every change, so a gateway can tell cheaply whether to reload. */
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.server, t.tool] })],
);
