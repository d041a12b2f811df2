import { existsSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { openAuditDb } from './audit-db.js';
import { exportAudit, queryAudit } from './audit-query.js';
import type { AuditReader } from './audit-reader.js';
import { pruneAudit } from './audit-retention.js';
import { verifyAuditChain } from './audit-verify.js';

/** Where a SQLite error means "there is no audit log here yet" rather than a broken store. */
const NO_LOG = /no such table: audit_log|unable to open database file|SQLITE_CANTOPEN/i;

/**
 * The audit reader of a SQLite file. Every operation opens its own read-only connection and
 * closes it when done (an export: when its stream closes), so no reader outlives its request
 * and none can block the writer's commits (WAL readers never do).
 */
export function createSqliteAuditReader(file: string): AuditReader {
  if (typeof file !== 'string' || file === '' || file === ':memory:') {
    throw new TypeError('audit reader: file must be the path of the gateway database');
  }
  const withDb = <T>(fn: (db: Database.Database) => T): T => {
    const db = openAuditDb(file, { readonly: true });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  return {
    location: file,
    async hasLog() {
      if (!existsSync(file)) return false;
      try {
        return withDb((db) => (db.prepare('SELECT 1 FROM audit_log LIMIT 1').get(), true));
      } catch (err) {
        if (NO_LOG.test((err as Error).message)) return false;
        throw err;
      }
    },
    async query(query) {
      return withDb((db) => queryAudit(db, query));
    },
    export(query, format) {
      const db = openAuditDb(file, { readonly: true });
      try {
        const stream = exportAudit(db, query, format);
        // 'close' follows the end, an error and a consumer that went away.
        stream.once('close', () => db.close());
        return stream;
      } catch (err) {
        db.close();
        throw err;
      }
    },
    verify: (options) => verifyAuditChain(file, options),
    prune: (options) => pruneAudit(file, options),
    async close() {},
  };
}
