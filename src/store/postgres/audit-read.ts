import type { PoolClient } from 'pg';
import { auditQueryPlan, exportAuditPages, toAuditPage } from '../audit-query.js';
import type { AuditReader } from '../audit-reader.js';
import { checkPruneOptions, retentionCutoff } from '../audit-retention.js';
import { ONE_OFF_LOCK, pruneAllChunks } from './audit-retention.js';
import { verifyPgAuditClient } from './audit-verify.js';
import { connectPostgres, redactUrl, type PgConnection } from './connect.js';
import { withPoolClient } from './with-client.js';
import { auditLog } from './schema.js';

/**
 * The audit reader of a Postgres database (`../audit-reader.ts`): queries through drizzle on the
 * Postgres table (same filters, same keyset paging, same entry shape as SQLite), verify in one
 * REPEATABLE READ snapshot, prune under the chain lock. One small pool, opened on first use and
 * opened again after a failed open; no migrations (a reader never changes the schema).
 */
export function createPgAuditReader(url: string): AuditReader {
  let conn: Promise<PgConnection> | undefined;
  let closed = false;
  const open = (): Promise<PgConnection> => {
    if (closed) return Promise.reject(new Error('audit reader is closed'));
    conn ??= connectPostgres({ url, skipMigrations: true, max: 2 }).catch((err: unknown) => {
      conn = undefined;
      throw err;
    });
    return conn;
  };
  const withClient = async <T>(fn: (client: PoolClient) => Promise<T>): Promise<T> => withPoolClient((await open()).pool, fn);
  const query: AuditReader['query'] = async (q) => {
    const plan = auditQueryPlan(auditLog, q);
    const { db } = await open();
    const entries = await db.select().from(auditLog).where(plan.where).orderBy(plan.orderBy).limit(plan.fetch);
    return toAuditPage(entries, plan.limit);
  };
  return {
    location: redactUrl(url),
    async hasLog() {
      const { pool } = await open();
      const { rows } = await pool.query<{ ok: boolean }>("SELECT to_regclass('audit_log') IS NOT NULL AS ok");
      return rows[0].ok;
    },
    query,
    export: (q, format) => exportAuditPages(query, q, format),
    verify: (options) => withClient((client) => verifyPgAuditClient(client, options)),
    async prune(options) {
      checkPruneOptions(options);
      const now = options.now ?? Date.now();
      return withClient((client) =>
        pruneAllChunks(client, ONE_OFF_LOCK, {
          cutoff: retentionCutoff(options.retentionDays, now),
          secret: options.secret,
          chunkRows: options.chunkRows ?? 5000,
          now,
        }),
      );
    },
    async close() {
      closed = true;
      const c = await conn?.catch(() => undefined);
      conn = undefined;
      await c?.pool.end();
    },
  };
}

