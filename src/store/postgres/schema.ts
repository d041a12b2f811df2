import { index, pgTable, text } from 'drizzle-orm/pg-core';
import { ms } from './columns.js';

/**
 * The Postgres declaration of every table, side by side with the SQLite one (`../schema*.ts`,
 * `../audit-schema.ts`), one file per area as there: same table, column and index names, same
 * nullability and keys. This file holds the core tables and re-exports the others.
 * `test/store/schema-parity.test.ts` compares the two table by table, so a column added to one
 * and not the other fails the suite instead of drifting. Per dialect only the types differ:
 * epoch-millisecond times are `bigint` (number mode), SQLite `real` is `double precision`,
 * SQLite's 0/1 boolean is `boolean`. JSON stays in `text` so both dialects share one codec.
 */

export const servers = pgTable('servers', {
  name: text('name').primaryKey(),
  transport: text('transport', { enum: ['http', 'stdio'] }).notNull(),
  target: text('target').notNull(),
  era: text('era', { enum: ['modern', 'legacy'] }),
  updatedAt: ms('updated_at').notNull(),
});

export const sessions = pgTable(
  'sessions',
  {
    idHash: text('id_hash').primaryKey(),
    server: text('server').notNull(),
    principal: text('principal').notNull(),
    protocolVersion: text('protocol_version').notNull(),
    initParams: text('init_params').notNull(),
    upstreamSessionId: text('upstream_session_id'),
    createdAt: ms('created_at').notNull(),
    lastSeenAt: ms('last_seen_at').notNull(),
  },
  (t) => [index('sessions_last_seen_idx').on(t.lastSeenAt)],
);

export const meta = pgTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

export * from './schema-agents.js';
export * from './schema-tools.js';
export * from './schema-oauth.js';
export * from './schema-policy.js';
export * from './audit-schema.js';
