/**
 * The audit log on the suite's store (`PORTCULLIS_TEST_STORE`): a writer, a reader and raw SQL
 * on a fresh database of the chosen dialect, so one audit test runs unchanged on SQLite files
 * and on Postgres. Raw SQL is written with `?` placeholders; on Postgres they become `$1…` and
 * int8 values come back as numbers, as SQLite returns them.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { openAuditReader, type AuditReader } from '../../src/store/audit-reader.js';
import { createAuditWriter, type AuditWriter, type AuditWriterOptions } from '../../src/store/audit-writer.js';
import { createPostgresAuditWriter, type PostgresAuditWriterOptions } from '../../src/store/postgres/audit-writer.js';
import { freshDatabase, TEST_STORE, type TestDatabase } from './database.js';

export { TEST_STORE };

export type TestWriterOptions = Partial<Omit<AuditWriterOptions, 'file'>> & Partial<Omit<PostgresAuditWriterOptions, 'url'>>;

/** A fresh database plus what audit tests do with it. */
export interface AuditTestDatabase {
  readonly db: TestDatabase;
  readonly provider: 'sqlite' | 'postgres';
  /** A writer on this database (closed by `drop`). */
  writer(options?: TestWriterOptions): AuditWriter;
  /** A reader on this database (closed by `drop`). */
  reader(): Promise<AuditReader>;
  /** Raw SQL outside the gateway's code: reads for assertions, writes for tampering. */
  sql<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R[]>;
  /** Several statements in one transaction. */
  transaction(statements: ReadonlyArray<[string, (readonly unknown[])?]>): Promise<void>;
  drop(): Promise<void>;
}

/** `application_name` of the helper's own Postgres connection. */
export const TEST_CLIENT_NAME = 'portcullis-audit-test';

const int8AsNumber = {
  getTypeParser: (oid: number, format?: string) => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')),
};

const toPg = (text: string): string => {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
};

/** A fresh database of the suite's store (or the given one) with audit helpers. */
export async function freshAuditDatabase(provider: 'sqlite' | 'postgres' = TEST_STORE): Promise<AuditTestDatabase> {
  const db = await freshDatabase(provider);
  const writers: AuditWriter[] = [];
  const readers: AuditReader[] = [];
  // A pool, not one client: tests read back rows from concurrent callbacks, and one pg client
  // must not carry overlapping queries.
  let pool: pg.Pool | undefined;
  const pgPool = (): pg.Pool => {
    if (!pool) {
      // Named, so a test that kills the gateway's backends can spare these.
      pool = new pg.Pool({ connectionString: db.url, application_name: TEST_CLIENT_NAME, max: 4 });
      pool.on('error', () => undefined);
    }
    return pool;
  };
  const withSqlite = <T>(fn: (conn: Database.Database) => T): T => {
    const conn = new Database(db.url);
    try {
      return fn(conn);
    } finally {
      conn.close();
    }
  };
  return {
    db,
    provider,
    writer(options = {}) {
      const w =
        provider === 'postgres'
          ? createPostgresAuditWriter({ secret: '', ...options, url: db.url } as PostgresAuditWriterOptions)
          : createAuditWriter({ secret: '', ...options, file: db.url } as AuditWriterOptions);
      writers.push(w);
      return w;
    },
    async reader() {
      const r = await openAuditReader(db.config);
      readers.push(r);
      return r;
    },
    async sql<R>(text: string, params: readonly unknown[] = []) {
      if (provider === 'sqlite') {
        return withSqlite((conn) => {
          const stmt = conn.prepare(text);
          return (stmt.reader ? stmt.all(...params) : (stmt.run(...params), [])) as R[];
        });
      }
      return (await pgPool().query({ text: toPg(text), values: [...params], types: int8AsNumber })).rows as R[];
    },
    async transaction(statements) {
      if (provider === 'sqlite') {
        withSqlite((conn) => conn.transaction(() => statements.forEach(([t, p = []]) => conn.prepare(t).run(...p)))());
        return;
      }
      const c = await pgPool().connect();
      try {
        await c.query('BEGIN');
        for (const [t, p = []] of statements) await c.query(toPg(t), [...p]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK');
        throw err;
      } finally {
        c.release();
      }
    },
    async drop() {
      await Promise.all(writers.splice(0).map((w) => w.close()));
      await Promise.all(readers.splice(0).map((r) => r.close()));
      await pool?.end();
      await db.drop();
    },
  };
}
