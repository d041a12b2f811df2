import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import { GENESIS_HASH, hashAuditRow, type StoredAuditRow } from './audit-chain.js';
import { assertAuditSecret, isCheckpointSigned, listCheckpoints, type AuditCheckpoint } from './audit-checkpoint.js';
import { openAuditDb } from './audit-db.js';

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
 * first remaining row must carry as `prev_hash`.
 */
/** What kind of break verify found (see the module comment). */
export type AuditChainProblem =
  | 'missing_row'
  | 'prev_hash_mismatch'
  | 'hash_mismatch'
  | 'truncated'
  | 'checkpoint_mismatch'
  | 'bad_checkpoint_signature';

/** The verdict of {@link verifyAuditChain}: the first bad seq and why, or what was checked. */
export type AuditVerifyResult =
  | {
      ok: true;
      /** Rows checked. */
      rows: number;
      /** The last seq retention removed (verification started after it), or null. */
      prunedThrough: number | null;
      head: { seq: number; hash: string } | null;
      /** The highest seq a signed head checkpoint vouches for. */
      checkpointedThrough: number | null;
    }
  | { ok: false; firstBadSeq: number; problem: AuditChainProblem; detail: string; rows: number };

/** Options of {@link verifyAuditChain}. */
export interface VerifyAuditOptions {
  /** The gateway secret the checkpoints were signed with. */
  secret: string;
}

type Problem = { firstBadSeq: number; problem: AuditChainProblem; detail: string };
const YIELD_EVERY = 20_000;

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
  const { secret } = options;
  db.exec('BEGIN');
  try {
    const problems: Problem[] = [];
    const signed = (c: AuditCheckpoint): boolean => {
      if (isCheckpointSigned(secret, c)) return true;
      problems.push({ firstBadSeq: c.seq, problem: 'bad_checkpoint_signature', detail: `${c.kind} checkpoint at ${c.seq}` });
      return false;
    };
    const prunes = listCheckpoints(db, 'prune').filter(signed);
    const prune = prunes.at(-1);
    const from = prune?.seq ?? 0;
    // `start` checkpoints pin the head a writer found at start-up just as `head` ones do, so the
    // tail written before a crash is covered as soon as the gateway is back.
    const heads = [...listCheckpoints(db, 'head'), ...listCheckpoints(db, 'start')]
      .filter(signed)
      .filter((c) => c.seq > from)
      .sort((a, b) => a.seq - b.seq);
    const wanted = new Set(heads.map((c) => c.seq));
    const hashAt = new Map<number, string>();

    let expected = from + 1;
    let prev = prune?.headHash ?? GENESIS_HASH;
    let rows = 0;
    const walk = db.prepare('SELECT * FROM audit_log WHERE seq > ? ORDER BY seq').iterate(from);
    for (const raw of walk as IterableIterator<StoredAuditRow>) {
      const seq = Number(raw.seq);
      const bad = checkRow(raw, seq, expected, prev);
      if (bad) {
        problems.push(bad);
        break;
      }
      prev = String(raw.hash);
      if (wanted.has(seq)) hashAt.set(seq, prev);
      expected += 1;
      rows += 1;
      if (rows % YIELD_EVERY === 0) await yieldToLoop();
    }
    const last = expected - 1;
    if (prune && rows === 0 && !problems.some((p) => p.problem !== 'bad_checkpoint_signature')) {
      // Retention never deletes the head row, so an empty log after a prune lost its tail.
      problems.push({ firstBadSeq: from + 1, problem: 'truncated', detail: `no rows after the prune point ${from}` });
    }
    let vouched = from;
    for (const c of heads) {
      if (c.seq > last) {
        problems.push({ firstBadSeq: last + 1, problem: 'truncated', detail: `checkpoint at ${c.seq}, log ends at ${last}` });
        break;
      }
      if (hashAt.get(c.seq) !== c.headHash) {
        problems.push({
          firstBadSeq: vouched + 1,
          problem: 'checkpoint_mismatch',
          detail: `row ${c.seq} differs from its signed checkpoint; rows after ${vouched} were rewritten`,
        });
        break;
      }
      vouched = c.seq;
    }
    db.exec('COMMIT');
    if (problems.length) {
      const first = problems.reduce((a, b) => (b.firstBadSeq < a.firstBadSeq ? b : a));
      return { ok: false, ...first, rows };
    }
    return {
      ok: true,
      rows,
      prunedThrough: prune?.seq ?? null,
      head: last > 0 && rows > 0 ? { seq: last, hash: prev } : null,
      checkpointedThrough: heads.length ? vouched : null,
    };
  } finally {
    if (db.inTransaction) db.exec('ROLLBACK');
  }
}

function checkRow(raw: StoredAuditRow, seq: number, expected: number, prev: string): Problem | undefined {
  if (seq !== expected) {
    return { firstBadSeq: expected, problem: 'missing_row', detail: `expected row ${expected}, found ${seq}` };
  }
  if (raw.prev_hash !== prev) {
    return { firstBadSeq: seq, problem: 'prev_hash_mismatch', detail: `row ${seq} does not follow row ${seq - 1}` };
  }
  if (hashAuditRow(raw, prev) !== raw.hash) {
    return { firstBadSeq: seq, problem: 'hash_mismatch', detail: `row ${seq} was changed after it was written` };
  }
  return undefined;
}
