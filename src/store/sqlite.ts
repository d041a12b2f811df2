import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { and, eq, lt } from 'drizzle-orm';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { PortcullisError } from '../errors.js';
import { AUDIT_WAL_CHECKPOINT_PAGES } from './audit-db.js';
import * as schema from './schema.js';
import { createSqliteAgentsRepo } from './agents-repo.js';
import { createSqliteOAuthStore } from './oauth-repo.js';
import { createSqlitePolicyRepo } from './policy-repo.js';
import { createSqliteToolPinsRepo } from './tool-pins-repo.js';
import type { MetaRepo, ServerRepo, SessionRepo, Store } from './store.js';

const MIGRATIONS = fileURLToPath(new URL('../../drizzle/sqlite', import.meta.url));

export interface SqliteStoreOptions {
  /** File path or `:memory:`. */
  url: string;
  skipMigrations?: boolean;
}

type Db = BetterSQLite3Database<typeof schema>;

/** Opens the embedded store: WAL journal, foreign keys on, migrations applied unless skipped. */
export function openSqliteStore(options: SqliteStoreOptions): Store {
  const sqlite = openDatabase(options.url);
  const db: Db = drizzle(sqlite, { schema });
  if (!options.skipMigrations) migrate(db, { migrationsFolder: MIGRATIONS });
  return {
    dialect: 'sqlite',
    sessions: sessionRepo(db),
    servers: serverRepo(db),
    meta: metaRepo(db),
    oauth: createSqliteOAuthStore(db),
    agents: createSqliteAgentsRepo(db),
    policy: createSqlitePolicyRepo(db),
    toolPins: createSqliteToolPinsRepo(db),
    async close() {
      sqlite.close();
    },
  };
}

function openDatabase(url: string): Database.Database {
  if (url !== ':memory:') mkdirSync(dirname(resolve(url)), { recursive: true });
  try {
    const sqlite = new Database(url);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    // Checkpoints are the audit writer's, on its thread: a commit here past its window would
    // copy the audit log's pages into the file on the event loop. This window is only reached
    // when no audit writer shares the file (the CLI, a gateway without one).
    sqlite.pragma(`wal_autocheckpoint = ${2 * AUDIT_WAL_CHECKPOINT_PAGES}`);
    return sqlite;
  } catch (err) {
    throw new PortcullisError('STORE_FAILURE', `cannot open SQLite database ${url}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Applies the pending migrations of the file at `url` (`portcullis migrate`); returns the
 * `created_at` stamp of the newest applied migration before and after (null: none yet).
 */
export function migrateSqlite(url: string): { before: number | null; after: number | null } {
  const sqlite = openDatabase(url);
  try {
    const newest = (): number | null => {
      const table = sqlite.prepare("select 1 from sqlite_master where type = 'table' and name = '__drizzle_migrations'").get();
      if (!table) return null;
      const row = sqlite.prepare('select max(created_at) as at from __drizzle_migrations').get() as { at: number | string | null };
      return row.at === null ? null : Number(row.at);
    };
    const before = newest();
    migrate(drizzle(sqlite, { schema }), { migrationsFolder: MIGRATIONS });
    return { before, after: newest() };
  } finally {
    sqlite.close();
  }
}

function sessionRepo(db: Db): SessionRepo {
  const t = schema.sessions;
  return {
    async insert(row) {
      db.insert(t).values(row).run();
    },
    async get(idHash) {
      return db.select().from(t).where(eq(t.idHash, idHash)).get();
    },
    async setUpstreamSession(idHash, upstreamSessionId) {
      db.update(t).set({ upstreamSessionId }).where(eq(t.idHash, idHash)).run();
    },
    async touch(idHash, at) {
      db.update(t).set({ lastSeenAt: at }).where(and(eq(t.idHash, idHash), lt(t.lastSeenAt, at))).run();
    },
    async delete(idHash) {
      db.delete(t).where(eq(t.idHash, idHash)).run();
    },
    async deleteIdle(before) {
      return db
        .delete(t)
        .where(lt(t.lastSeenAt, before))
        .returning({ idHash: t.idHash })
        .all()
        .map((r) => r.idHash);
    },
    async count() {
      return db.$count(t);
    },
  };
}

function serverRepo(db: Db): ServerRepo {
  const t = schema.servers;
  return {
    async upsert(row) {
      db.insert(t)
        .values(row)
        .onConflictDoUpdate({
          target: t.name,
          set: { transport: row.transport, target: row.target, updatedAt: row.updatedAt },
        })
        .run();
    },
    async setEra(name, era) {
      db.update(t).set({ era }).where(eq(t.name, name)).run();
    },
    async list() {
      return db.select().from(t).all();
    },
  };
}

function metaRepo(db: Db): MetaRepo {
  const t = schema.meta;
  return {
    async get(key) {
      return db.select().from(t).where(eq(t.key, key)).get()?.value;
    },
    async setIfAbsent(key, value) {
      db.insert(t).values({ key, value }).onConflictDoNothing().run();
      return db.select().from(t).where(eq(t.key, key)).get()!.value;
    },
  };
}
