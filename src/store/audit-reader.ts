import type { Readable } from 'node:stream';
import type { DatabaseConfig } from '../config/schema.js';
import type { AuditExportFormat, AuditPage, AuditQuery } from './audit-query.js';
import type { PruneAuditOptions, PruneAuditResult } from './audit-retention.js';
import type { AuditVerifyResult, VerifyAuditOptions } from './audit-verify-walk.js';

/**
 * Reading the audit log whatever the database: what `portcullis audit …` and `/admin/audit` use,
 * so neither asks which dialect it is talking to. SQLite (`audit-reader-sqlite.ts`) opens a
 * read-only connection per operation; Postgres (`postgres/audit-read.ts`) keeps a small pool.
 * Opening is lazy on both: a database that is missing or down fails the operation that needs
 * it, never `openAuditReader` itself.
 */
export interface AuditReader {
  /** The file, or the URL without its password: for messages. */
  readonly location: string;
  /** False when there is no audit log yet (no file, or no `audit_log` table): the gateway creates it. */
  hasLog(): Promise<boolean>;
  /** One page, keyset by seq (see `audit-query.ts`). */
  query(query: AuditQuery): Promise<AuditPage>;
  /** Every matching row as JSON Lines or CSV, a page at a time. */
  export(query: AuditQuery, format: AuditExportFormat): Readable;
  /** Walks the chain and its checkpoints in one snapshot. */
  verify(options: VerifyAuditOptions): Promise<AuditVerifyResult>;
  /** Retention: deletes old rows in chunks, leaving a signed prune checkpoint. */
  prune(options: PruneAuditOptions): Promise<PruneAuditResult>;
  close(): Promise<void>;
}

/** The reader of the audit log in the database `config` names; `pg` loads only for Postgres. */
export async function openAuditReader(config: DatabaseConfig): Promise<AuditReader> {
  if (config.provider === 'postgres') {
    const { createPgAuditReader } = await import('./postgres/audit-read.js');
    return createPgAuditReader(config.url);
  }
  const { createSqliteAuditReader } = await import('./audit-reader-sqlite.js');
  return createSqliteAuditReader(config.url);
}
