import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import { assertAuditSecret, insertCheckpoint } from './audit-checkpoint.js';
import { openAuditDb } from './audit-db.js';

/**
 * Retention (`audit.retentionDays`): deletes the oldest rows without breaking verification.
 * Only a prefix of the chain is ever deleted (all rows up to some seq P), never the head row, and
 * in the same transaction a signed `prune` checkpoint records `(P, hash of row P)`: verification
 * then starts at P+1 and checks that row's `prev_hash` against it. Deleting is done in chunks,
 * each its own short transaction, so writers are held up for milliseconds, not for the whole run.
 */

const DAY_MS = 86_400_000;

/** Options of {@link pruneAudit}. */
export interface PruneAuditOptions {
  /** Rows older than this many days (by `time`) are deleted. */
  retentionDays: number;
  /** The gateway secret that signs the prune checkpoint. */
  secret: string;
  /** Epoch ms to count from; defaults to now. */
  now?: number;
  /** Rows per transaction; default 5000. */
  chunkRows?: number;
}

/** What a prune removed. */
export interface PruneAuditResult {
  /** Rows deleted. */
  deleted: number;
  /** The last deleted seq (verification starts after it), or null if nothing was deleted. */
  prunedThrough: number | null;
}

/** Validates retention options up front, as factories do. */
export function checkPruneOptions(options: PruneAuditOptions): void {
  assertAuditSecret(options.secret);
  if (typeof options.retentionDays !== 'number' || !(options.retentionDays > 0)) {
    throw new TypeError('audit: retentionDays must be a positive number');
  }
}

/**
 * Deletes one chunk of rows older than `cutoff` (epoch ms), oldest first, stopping at the first
 * row that is recent enough (so a clock step backwards never deletes a recent row) and always
 * keeping the head row (the writer continues the chain from it). Returns what it deleted.
 */
export function pruneAuditChunk(
  db: Database.Database,
  opts: { cutoff: number; secret: string; chunkRows: number; now: number },
): PruneAuditResult {
  db.exec('BEGIN IMMEDIATE');
  try {
    const head = (db.prepare('SELECT max(seq) AS seq FROM audit_log').get() as { seq: number | null }).seq;
    let last: { seq: number; hash: string } | undefined;
    if (head !== null) {
      const oldest = db
        .prepare('SELECT seq, time, hash FROM audit_log ORDER BY seq LIMIT ?')
        .all(opts.chunkRows) as Array<{ seq: number; time: number; hash: string }>;
      for (const row of oldest) {
        if (row.time >= opts.cutoff || row.seq >= head) break;
        last = row;
      }
    }
    if (!last) {
      db.exec('COMMIT');
      return { deleted: 0, prunedThrough: null };
    }
    const deleted = db.prepare('DELETE FROM audit_log WHERE seq <= ?').run(last.seq).changes;
    insertCheckpoint(db, opts.secret, { kind: 'prune', seq: last.seq, headHash: last.hash, time: opts.now });
    // Checkpoints about deleted rows say nothing verification can still check.
    db.prepare(
      `DELETE FROM audit_checkpoints WHERE (kind = 'head' AND seq <= ?) OR (kind = 'prune' AND seq < ?)`,
    ).run(last.seq, last.seq);
    db.exec('COMMIT');
    return { deleted, prunedThrough: last.seq };
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

/** The cutoff (epoch ms) for a retention period. */
export const retentionCutoff = (retentionDays: number, now: number): number => now - retentionDays * DAY_MS;

/**
 * Prunes the audit log of `file` on its own connection, chunk by chunk, yielding to the event
 * loop between chunks (for the CLI and for a gateway without a running writer; a running writer
 * prunes on its worker thread instead, see `createAuditWriter({ retentionDays })`).
 */
export async function pruneAudit(file: string, options: PruneAuditOptions): Promise<PruneAuditResult> {
  checkPruneOptions(options);
  const now = options.now ?? Date.now();
  const db = openAuditDb(file);
  try {
    const total: PruneAuditResult = { deleted: 0, prunedThrough: null };
    for (;;) {
      const chunk = pruneAuditChunk(db, {
        cutoff: retentionCutoff(options.retentionDays, now),
        secret: options.secret,
        chunkRows: options.chunkRows ?? 5000,
        now,
      });
      if (chunk.deleted === 0) return total;
      total.deleted += chunk.deleted;
      total.prunedThrough = chunk.prunedThrough;
      await yieldToLoop();
    }
  } finally {
    db.close();
  }
}
