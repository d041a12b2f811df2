import { and, eq, lt } from 'drizzle-orm';
import type { MetaRepo, ServerRepo, SessionRepo } from '../store.js';
import type { PgDb } from './connect.js';
import * as schema from './schema.js';

/**
 * Sessions, servers and meta on Postgres, with the semantics of the SQLite ones
 * (`../sqlite.ts`). Several gateways may share the database, so every read-modify-write is one
 * conditional statement rather than a read followed by a write.
 */

/** MCP sessions (`sessions`); `touch` only ever moves `last_seen_at` forward. */
export function createPgSessionRepo(db: PgDb): SessionRepo {
  const t = schema.sessions;
  return {
    async insert(row) {
      await db.insert(t).values(row);
    },
    async get(idHash) {
      const [row] = await db.select().from(t).where(eq(t.idHash, idHash)).limit(1);
      return row;
    },
    async setUpstreamSession(idHash, upstreamSessionId) {
      await db.update(t).set({ upstreamSessionId }).where(eq(t.idHash, idHash));
    },
    async touch(idHash, at) {
      // Conditional: two instances touching at once never move the time backwards.
      await db.update(t).set({ lastSeenAt: at }).where(and(eq(t.idHash, idHash), lt(t.lastSeenAt, at)));
    },
    async delete(idHash) {
      await db.delete(t).where(eq(t.idHash, idHash));
    },
    async deleteIdle(before) {
      const rows = await db.delete(t).where(lt(t.lastSeenAt, before)).returning({ idHash: t.idHash });
      return rows.map((r) => r.idHash);
    },
    async count() {
      return db.$count(t);
    },
  };
}

/** Registered upstreams (`servers`); an upsert keeps the learned era. */
export function createPgServerRepo(db: PgDb): ServerRepo {
  const t = schema.servers;
  return {
    async upsert(row) {
      await db
        .insert(t)
        .values(row)
        .onConflictDoUpdate({ target: t.name, set: { transport: row.transport, target: row.target, updatedAt: row.updatedAt } });
    },
    async setEra(name, era) {
      await db.update(t).set({ era }).where(eq(t.name, name));
    },
    async list() {
      return db.select().from(t);
    },
  };
}

/** Key/value settings (`meta`); `setIfAbsent` is first-writer-wins across processes. */
export function createPgMetaRepo(db: PgDb): MetaRepo {
  const t = schema.meta;
  const read = async (key: string) => (await db.select().from(t).where(eq(t.key, key)).limit(1))[0]?.value;
  return {
    get: read,
    async setIfAbsent(key, value) {
      const [inserted] = await db.insert(t).values({ key, value }).onConflictDoNothing().returning({ value: t.value });
      if (inserted) return inserted.value;
      // The conflicting row was committed by another writer; this statement's snapshot sees it.
      const stored = await read(key);
      if (stored === undefined) throw new Error(`meta ${key}: conflict on insert but no row to read`);
      return stored;
    },
  };
}
