import { PortcullisError } from '../errors.js';
import type { AuditRecord } from './audit-record.js';
import type { PruneAuditResult } from './audit-retention.js';
import type { AuditAppendOptions, AuditWriterStats } from './audit-writer-options.js';

/**
 * What both audit writers offer (SQLite on a worker thread, `audit-writer.ts`; Postgres in
 * process, `postgres/audit-writer.ts`), and the one error a refused append carries.
 */
export interface AuditWriter {
  /** Resolves once the log is open (and unfinished attempts recovered); rejects STORE_FAILURE. */
  ready(): Promise<{ seq: number; hash: string; recovered: number }>;
  /** Queues a record; resolves after its batch is committed (and made durable under `power`). */
  append(record: AuditRecord, options?: AuditAppendOptions): Promise<{ seq: number }>;
  /** Prunes now (in chunks, between batches). */
  prune(retentionDays?: number): Promise<PruneAuditResult>;
  /** Flushes what is queued, writes a final checkpoint, stops. */
  close(): Promise<void>;
  stats(): AuditWriterStats;
}

/** A `STORE_FAILURE`, the error every refused append carries (the gate maps it to the wire). */
export const storeFailure = (message: string, cause?: unknown): PortcullisError =>
  new PortcullisError('STORE_FAILURE', message, cause === undefined ? undefined : { cause });
