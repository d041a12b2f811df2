import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Tables of the embedded (SQLite) store. Times are epoch milliseconds. The repositories in
 * `store/*-repo.ts` are the only code that touches these; callers see the `Store` interface.
 */

/** Registered upstream servers, as last seen in config, with the era verdict of their probe. */
export const servers = sqliteTable('servers', {
  name: text('name').primaryKey(),
  transport: text('transport', { enum: ['http', 'stdio'] }).notNull(),
  target: text('target').notNull(),
  era: text('era', { enum: ['modern', 'legacy'] }),
  updatedAt: integer('updated_at').notNull(),
});

/**
 * Client sessions (2025-era Streamable HTTP). The row is keyed by the SHA-256 of the session id:
 * the id is a bearer secret, and a leaked database must not hand out live sessions.
 */
export const sessions = sqliteTable(
  'sessions',
  {
    idHash: text('id_hash').primaryKey(),
    server: text('server').notNull(),
    /** Who opened it (`anonymous`, or the token's subject/agent): another identity gets 404. */
    principal: text('principal').notNull(),
    protocolVersion: text('protocol_version').notNull(),
    /** The client's `initialize` params, to re-open the upstream session after a restart. */
    initParams: text('init_params').notNull(),
    upstreamSessionId: text('upstream_session_id'),
    createdAt: integer('created_at').notNull(),
    lastSeenAt: integer('last_seen_at').notNull(),
  },
  (t) => [index('sessions_last_seen_idx').on(t.lastSeenAt)],
);

/** Small key/value facts the gateway keeps about itself (generated secret, schema notes). */
export const meta = sqliteTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});
