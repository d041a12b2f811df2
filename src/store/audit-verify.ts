import type Database from 'better-sqlite3';
import type { StoredAuditRow } from './audit-chain.js';
import { assertAuditSecret, listCheckpoints } from './audit-checkpoint.js';
import { openAuditDb } from './audit-db.js';
import { walkAuditChain, type AuditVerifyResult, type VerifyAuditOptions } from './audit-verify-walk.js';

export type { AuditChainProblem, AuditVerifyResult, VerifyAuditOptions } from './audit-verify-walk.js';

/**
 * `portcullis audit verify`: walks the chain and names the first row that is not what the writer
 * wrote. What each kind of tampering looks like:
 * - a changed byte in a row → `hash_mismatch` (or `prev_hash_mismatch` if it hit that column);
 * - a deleted row → `missing_row` at its seq (seqs are dense);
 * - two rows swapped → `prev_hash_mismatch` at the lower seq;
 * - rows cut off the end → `truncated` at the first missing seq, found through the signed head
 *   and start checkpoints in `audit_checkpoints` (a cut after the last checkpoint cannot be
 *   seen: the writer's `checkpointEvery` / `checkpointMs` bound that window);
 * - a chain rewritten with recomputed hashes → `checkpoint_mismatch` after the last checkpoint
 *   that still matches;
 * - a forged or altered checkpoint → `bad_checkpoint_signature`.
 * Verification starts after the latest signed `prune` checkpoint (retention), whose hash the
 * first remaining row must carry as `prev_hash`. The walk is `audit-verify-walk.ts`, shared with
 * Postgres (`postgres/audit-verify.ts`); this file is its SQLite snapshot.
 */

/** Verifies the audit chain of `file` on a read-only connection, yielding to the event loop as it goes. */
export async function verifyAuditChain(file: string, options: VerifyAuditOptions): Promise<AuditVerifyResult> {
  assertAuditSecret(options.secret);
  const db = openAuditDb(file, { readonly: true });
  try {
    return await verifyAuditDb(db, options);
  } finally {
    db.close();
  }
}

/** Verifies the audit chain on an open connection, inside one read transaction (one snapshot). */
export async function verifyAuditDb(db: Database.Database, options: VerifyAuditOptions): Promise<AuditVerifyResult> {
  db.exec('BEGIN');
  try {
    const result = await walkAuditChain(
      {
        checkpoints: (kind) => listCheckpoints(db, kind),
        rows: (after) => db.prepare('SELECT * FROM audit_log WHERE seq > ? ORDER BY seq').iterate(after) as IterableIterator<StoredAuditRow>,
      },
      options,
    );
    db.exec('COMMIT');
    return result;
  } finally {
    if (db.inTransaction) db.exec('ROLLBACK');
  }
}
