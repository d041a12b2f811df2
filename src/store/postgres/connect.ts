import { fileURLToPath } from 'node:url';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { Pool, PoolClient } from 'pg';
import { PortcullisError } from '../../errors.js';
import * as schema from './schema.js';

const MIGRATIONS = fileURLToPath(new URL('../../../drizzle/postgres', import.meta.url));

/** Any advisory-lock key Portcullis takes; a constant so every instance contends for the same. */
export const LOCK = Object.freeze({ migrate: 0x50637501, policyWrite: 0x50637502, auditChain: 0x50637503 });

export type PgDb = NodePgDatabase<typeof schema>;

/** The `pg` module as ESM sees it (CommonJS: its API is the default export). */
export type PgModule = (typeof import('pg'))['default'];

/** One Postgres connection pool and its drizzle database. */
export interface PgConnection {
  readonly pool: Pool;
  readonly db: PgDb;
  /** The `pg` module itself (for a dedicated `Client`, e.g. LISTEN). */
  readonly pg: PgModule;
  readonly url: string;
}

/** Options of {@link connectPostgres}. */
export interface PgConnectOptions {
  url: string;
  skipMigrations?: boolean;
  /** Pool size; default 10. */
  max?: number;
  /** Told about errors of idle pooled connections (a server restart); the pool replaces them. */
  onPoolError?: (err: Error) => void;
}

/**
 * `pg` is an optional peer: the embedded SQLite default must install without it, so it is only
 * imported here, when a config asks for Postgres.
 */
async function importPg(): Promise<{ pg: PgModule; drizzle: typeof import('drizzle-orm/node-postgres').drizzle }> {
  try {
    const pg = (await import('pg')).default;
    const { drizzle } = await import('drizzle-orm/node-postgres');
    return { pg, drizzle };
  } catch (err) {
    throw new PortcullisError('CONFIG_INVALID', 'provider "postgres" requires the "pg" package — npm install pg', { cause: err });
  }
}

/**
 * Opens a pool on `url` and applies the Postgres migrations unless skipped. Several instances
 * may start at once: migrations run under a session advisory lock, so one applies them and the
 * others find them done.
 */
export async function connectPostgres(options: PgConnectOptions): Promise<PgConnection> {
  const { pg, drizzle } = await importPg();
  const pool = new pg.Pool({ connectionString: options.url, max: options.max ?? 10 });
  // An idle client dies when the server restarts; without a listener that error kills the process.
  pool.on('error', (err) => options.onPoolError?.(err));
  const db = drizzle({ client: pool, schema });
  try {
    if (!options.skipMigrations) await migrateLocked(pool, db);
    else await pool.query('select 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new PortcullisError('STORE_FAILURE', `cannot open Postgres database ${redactUrl(options.url)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return { pool, db, pg, url: options.url };
}

async function migrateLocked(pool: Pool, db: PgDb): Promise<void> {
  const { migrate } = await import('drizzle-orm/node-postgres/migrator');
  const lockHolder: PoolClient = await pool.connect();
  try {
    await lockHolder.query('select pg_advisory_lock($1)', [LOCK.migrate]);
    await migrate(db, { migrationsFolder: MIGRATIONS });
  } finally {
    await lockHolder.query('select pg_advisory_unlock($1)', [LOCK.migrate]).catch(() => undefined);
    lockHolder.release();
  }
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}
