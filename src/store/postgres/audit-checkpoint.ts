import type { ClientBase } from 'pg';
import { timedQuery } from './timed-query.js';
import {
  isCheckpointSigned,
  signCheckpoint,
  type AuditCheckpoint,
  type AuditCheckpointKind,
} from '../audit-checkpoint.js';

/**
 * The signed checkpoints of `../audit-checkpoint.ts` on Postgres: same table, same signature;
 * only the driver differs (`bigint` columns come back from `pg` as strings, so they are read
 * back as numbers here, where the signature is checked over them).
 */

interface CheckpointRow {
  kind: AuditCheckpointKind;
  seq: string | number;
  head_hash: string;
  time: string | number;
  signature: string;
}

const toCheckpoint = (r: CheckpointRow): AuditCheckpoint => ({
  kind: r.kind,
  seq: Number(r.seq),
  headHash: r.head_hash,
  time: Number(r.time),
  signature: r.signature,
});

/** Signs and inserts a checkpoint on the caller's client (and transaction). */
export async function insertPgCheckpoint(
  client: ClientBase,
  secret: string,
  c: Omit<AuditCheckpoint, 'signature'>,
  queryTimeoutMs = 60_000,
): Promise<AuditCheckpoint> {
  const row: AuditCheckpoint = { ...c, signature: signCheckpoint(secret, c) };
  await timedQuery(
    client,
    'INSERT INTO audit_checkpoints (kind, seq, head_hash, time, signature) VALUES ($1, $2, $3, $4, $5)',
    [row.kind, row.seq, row.headHash, row.time, row.signature],
    queryTimeoutMs,
  );
  return row;
}

/** Every checkpoint of one kind, oldest seq first. */
export async function listPgCheckpoints(client: ClientBase, kind: AuditCheckpointKind): Promise<AuditCheckpoint[]> {
  const { rows } = await client.query<CheckpointRow>(
    'SELECT kind, seq, head_hash, time, signature FROM audit_checkpoints WHERE kind = $1 ORDER BY seq, id',
    [kind],
  );
  return rows.map(toCheckpoint);
}

/** The highest-seq checkpoint of a kind whose signature holds, if any. */
export async function latestSignedPgCheckpoint(
  client: ClientBase,
  secret: string,
  kind: AuditCheckpointKind,
): Promise<AuditCheckpoint | undefined> {
  // Forged rows are rare (they mean tampering); read a few at a time rather than all of them.
  for (let offset = 0; ; offset += 16) {
    const { rows } = await client.query<CheckpointRow>(
      'SELECT kind, seq, head_hash, time, signature FROM audit_checkpoints WHERE kind = $1 ORDER BY seq DESC, id DESC LIMIT 16 OFFSET $2',
      [kind, offset],
    );
    for (const r of rows) {
      const c = toCheckpoint(r);
      if (isCheckpointSigned(secret, c)) return c;
    }
    if (rows.length < 16) return undefined;
  }
}
