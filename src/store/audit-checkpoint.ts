import { createHmac, timingSafeEqual } from 'node:crypto';
import type Database from 'better-sqlite3';
import { canonicalJson } from './audit-chain.js';

/**
 * Signed checkpoints of the audit chain (`audit_checkpoints`). The chain alone proves that no row
 * in the middle changed, but not that rows were cut off its end: a checkpoint, signed with the
 * gateway secret, pins `(seq, head hash)` so verification can tell the tail is complete up to it.
 * A `prune` checkpoint lets verification start after rows retention deleted.
 *
 * Signature: hex HMAC-SHA256(secret, canonical JSON of `{ hash, kind, seq, time }`).
 */
export type AuditCheckpointKind = 'head' | 'prune' | 'start';

/** One checkpoint as stored. */
export interface AuditCheckpoint {
  kind: AuditCheckpointKind;
  seq: number;
  headHash: string;
  time: number;
  signature: string;
}

/** Rejects secrets too short to make forging a checkpoint hard (the config asks for ≥ 32). */
export function assertAuditSecret(secret: unknown): asserts secret is string {
  if (typeof secret !== 'string' || secret.length < 32) {
    throw new TypeError('audit: `secret` must be a string of at least 32 characters');
  }
}

/** The signature a checkpoint must carry. */
export function signCheckpoint(secret: string, c: Omit<AuditCheckpoint, 'signature'>): string {
  const body = canonicalJson({ hash: c.headHash, kind: c.kind, seq: c.seq, time: c.time });
  return createHmac('sha256', secret).update(body, 'utf8').digest('hex');
}

/** True when the checkpoint's signature is the one `secret` produces (constant-time compare). */
export function isCheckpointSigned(secret: string, c: AuditCheckpoint): boolean {
  const expected = Buffer.from(signCheckpoint(secret, c), 'hex');
  const given = Buffer.from(c.signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Signs and inserts a checkpoint, on the caller's connection and transaction. */
export function insertCheckpoint(
  db: Database.Database,
  secret: string,
  c: Omit<AuditCheckpoint, 'signature'>,
): AuditCheckpoint {
  const row: AuditCheckpoint = { ...c, signature: signCheckpoint(secret, c) };
  db.prepare(
    'INSERT INTO audit_checkpoints (kind, seq, head_hash, time, signature) VALUES (@kind, @seq, @headHash, @time, @signature)',
  ).run(row);
  return row;
}

/** Every checkpoint of one kind, oldest seq first. */
export function listCheckpoints(db: Database.Database, kind: AuditCheckpointKind): AuditCheckpoint[] {
  return db
    .prepare(
      'SELECT kind, seq, head_hash AS headHash, time, signature FROM audit_checkpoints WHERE kind = ? ORDER BY seq, id',
    )
    .all(kind) as AuditCheckpoint[];
}

/** The highest-seq checkpoint of a kind whose signature holds, if any. */
export function latestSignedCheckpoint(
  db: Database.Database,
  secret: string,
  kind: AuditCheckpointKind,
): AuditCheckpoint | undefined {
  const rows = db
    .prepare(
      'SELECT kind, seq, head_hash AS headHash, time, signature FROM audit_checkpoints WHERE kind = ? ORDER BY seq DESC, id DESC',
    )
    .iterate(kind) as IterableIterator<AuditCheckpoint>;
  for (const row of rows) {
    if (isCheckpointSigned(secret, row)) return row;
  }
  return undefined;
}

/** When a writer last signed its head, and how many records it committed since. */
export interface CheckpointSchedule {
  uncheckpointed: number;
  lastCheckpointAt: number;
  readonly checkpointEvery: number;
  readonly checkpointMs: number;
}

/** The checkpoint a batch of `written` records ends with: `force`, a due `head`, or none. */
export function checkpointDue(c: CheckpointSchedule, written: number, now: number, force?: AuditCheckpointKind): AuditCheckpointKind | undefined {
  if (force) return force;
  const pending = c.uncheckpointed + written;
  return pending >= c.checkpointEvery || (pending > 0 && now - c.lastCheckpointAt >= c.checkpointMs) ? 'head' : undefined;
}

/** After the commit: a head checkpoint starts the count again; otherwise the records add to it. */
export function noteCommitted(c: CheckpointSchedule, kind: AuditCheckpointKind | undefined, written: number, now: number): void {
  if (kind === 'head') {
    c.uncheckpointed = 0;
    c.lastCheckpointAt = now;
  } else {
    c.uncheckpointed += written;
  }
}
