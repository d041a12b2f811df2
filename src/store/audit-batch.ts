import type Database from 'better-sqlite3';
import type { RedactionRule } from './audit-args.js';
import { chainColumns, GENESIS_HASH, hashAuditRow, type ChainColumns } from './audit-chain.js';
import { checkpointDue, insertCheckpoint, noteCommitted, type AuditCheckpointKind } from './audit-checkpoint.js';
import { toAuditRowValues, type AuditRecord, type AuditRowValues } from './audit-record.js';

/**
 * Appending a batch to the chain, in one transaction: the worker side of group commit.
 * Synchronous by design (better-sqlite3); it runs on the audit worker thread only.
 */

/**
 * An SQL statement run in the same transaction as the record it travels with, right after the
 * record's row is inserted: how budget usage is written atomically with the audit rows that
 * spent it, so after a crash usage equals what the audit log shows.
 *
 * If `expectChanges` is set and the statement changed a different number of rows (say, a
 * conditional `UPDATE budget_usage SET used = used + ? WHERE key = ? AND used + ? <= cap`
 * that found no room), or the statement fails (a constraint, bad SQL), the record and all its
 * ops are rolled back to a savepoint and only that record's `append` rejects; the rest of the
 * batch commits. A store failure (I/O, disk full, lock) fails the whole batch.
 *
 * Ops travel to the worker as JSON: parameters must be strings, finite numbers or null
 * (SQLite has no booleans: pass 0/1).
 */
export interface AuditSqlOp {
  sql: string;
  /** Positional (`?`) or named (`@name`) parameters. */
  params?: readonly unknown[] | Record<string, unknown>;
  expectChanges?: number;
}

/** One record of a batch, as it crosses to the worker. */
export interface AuditBatchItem {
  record?: AuditRecord;
  /** When `append` was called: the row's `time` unless the record names one. */
  appendedAt?: number;
  /** Already-built row values (crash recovery writes these); used when `record` is absent. */
  values?: AuditRowValues;
  ops?: readonly AuditSqlOp[];
}

/** Per item: the assigned seq, or why this one record was refused. */
export type AuditItemResult = number | { error: string };

/** The chain writer's state on one connection. */
export interface ChainContext {
  db: Database.Database;
  secret: string;
  redact: RedactionRule;
  /** Records committed since the last head checkpoint. */
  uncheckpointed: number;
  lastCheckpointAt: number;
  checkpointEvery: number;
  checkpointMs: number;
  insert: Database.Statement;
  head: Database.Statement;
  opStatements: Map<string, Database.Statement>;
  /** Every row this writer builds has the same shape: its canonical column order, computed once. */
  columns: ChainColumns;
}

/** The `audit_log` columns in insert order (the Postgres writer builds the same rows). */
export const AUDIT_LOG_COLUMNS = [
  'seq', 'time', 'kind', 'request_key', 'agent', 'user', 'tenant', 'client', 'delegation', 'server', 'tool',
  'method', 'args_digest', 'args', 'decision', 'reason', 'request_id', 'source_ip', 'status', 'is_error',
  'latency_ms', 'bytes', 'prev_hash', 'hash',
] as const;

/** Prepares the statements the chain writer needs on this connection. */
export function createChainContext(
  db: Database.Database,
  opts: { secret: string; redact: RedactionRule; checkpointEvery: number; checkpointMs: number },
): ChainContext {
  return {
    db,
    ...opts,
    uncheckpointed: 0,
    lastCheckpointAt: Date.now(),
    insert: db.prepare(
      `INSERT INTO audit_log (${AUDIT_LOG_COLUMNS.join(', ')}) VALUES (${AUDIT_LOG_COLUMNS.map((c) => '@' + c).join(', ')})`,
    ),
    head: db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1'),
    opStatements: new Map(),
    columns: chainColumns(Object.fromEntries(AUDIT_LOG_COLUMNS.map((c) => [c, null]))),
  };
}

/** The chain's head: the last row's seq and hash, or (0, genesis) for an empty log. */
export function readChainHead(ctx: ChainContext): { seq: number; hash: string } {
  const row = ctx.head.get() as { seq: number; hash: string } | undefined;
  return row ?? { seq: 0, hash: GENESIS_HASH };
}

/**
 * Whether an error inside one record's ops means the STORE failed (the whole batch must fail:
 * disk full, I/O error, lock, read-only, corruption) rather than that one record's ops (a
 * constraint, an `expectChanges` mismatch, a bad statement or parameter: refuse that record only).
 */
const STORE_ERROR = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|READONLY|CORRUPT|NOMEM|CANTOPEN|PROTOCOL|NOTADB|INTERRUPT)/;
const isRecordError = (err: unknown): boolean => !STORE_ERROR.test(String((err as { code?: unknown })?.code ?? ''));

class OpMismatchError extends Error {}

/**
 * Appends the items in ONE transaction (`BEGIN IMMEDIATE`, so the write lock is taken up front
 * and a busy database fails fast instead of deadlocking on upgrade). The head is re-read inside
 * the transaction, so the chain stays linear even if another writer touched the file and a
 * rolled-back batch leaves no stale state behind. Throws (after rolling back) when the store
 * fails; the caller rejects the whole batch.
 */
export function commitBatch(
  ctx: ChainContext,
  items: readonly AuditBatchItem[],
  force?: AuditCheckpointKind,
): { results: AuditItemResult[]; head: { seq: number; hash: string } } {
  const { db } = ctx;
  const results: AuditItemResult[] = new Array(items.length);
  let written = 0;
  db.exec('BEGIN IMMEDIATE');
  try {
    let { seq, hash } = readChainHead(ctx);
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      let values: AuditRowValues;
      try {
        values = item.values ?? toAuditRowValues(item.record!, ctx.redact, item.appendedAt);
      } catch (err) {
        results[i] = { error: (err as Error).message };
        continue;
      }
      const row: Record<string, string | number | null> = { seq: seq + 1, ...values };
      const next = hashAuditRow(row, hash, ctx.columns);
      row.prev_hash = hash;
      row.hash = next;
      if (item.ops?.length) {
        db.exec('SAVEPOINT audit_record');
        try {
          ctx.insert.run(row);
          for (const op of item.ops) runOp(ctx, op);
          db.exec('RELEASE audit_record');
        } catch (err) {
          if (!isRecordError(err)) throw err;
          db.exec('ROLLBACK TO audit_record');
          db.exec('RELEASE audit_record');
          results[i] = { error: (err as Error).message };
          continue;
        }
      } else {
        ctx.insert.run(row);
      }
      seq += 1;
      hash = next;
      written += 1;
      results[i] = seq;
    }
    const now = Date.now();
    const kind = checkpointDue(ctx, written, now, force);
    if (kind) insertCheckpoint(db, ctx.secret, { kind, seq, headHash: hash, time: now });
    db.exec('COMMIT');
    noteCommitted(ctx, kind, written, now);
    return { results, head: { seq, hash } };
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

/** Writes a head checkpoint if records were committed since the last one (idle timer, close). */
export function checkpointIfDirty(ctx: ChainContext): void {
  if (ctx.uncheckpointed > 0) commitBatch(ctx, [], 'head');
}

function runOp(ctx: ChainContext, op: AuditSqlOp): void {
  let stmt = ctx.opStatements.get(op.sql);
  if (!stmt) {
    stmt = ctx.db.prepare(op.sql);
    // Budget ops are a handful of fixed statements; the cap only guards against a caller that
    // builds SQL per call.
    if (ctx.opStatements.size < 256) ctx.opStatements.set(op.sql, stmt);
  }
  const params = op.params ?? [];
  const info = Array.isArray(params) ? stmt.run(...(params as unknown[])) : stmt.run(params);
  if (op.expectChanges !== undefined && info.changes !== op.expectChanges) {
    throw new OpMismatchError(`audit op changed ${info.changes} rows, expected ${op.expectChanges}: ${op.sql}`);
  }
}
