import type { ClientBase } from 'pg';
import { timedQuery } from './timed-query.js';
import { checkPruneOptions, retentionCutoff, type PruneAuditOptions, type PruneAuditResult } from '../audit-retention.js';
import { beginChainTransaction, rollback, type PgChainContext } from './audit-batch.js';
import { insertPgCheckpoint } from './audit-checkpoint.js';
import { connectPostgres } from './connect.js';
import { withPoolClient } from './with-client.js';

/**
 * Retention on Postgres, with the rules of `../audit-retention.ts`: only a prefix is deleted,
 * never the head row, and a signed `prune` checkpoint pins the last deleted row in the same
 * transaction. Each chunk also holds the chain lock, so a prune never interleaves with another
 * instance's batch or prune (chunks are short: writers wait milliseconds).
 */

type LockOptions = Pick<PgChainContext, 'lockTimeoutMs' | 'queryTimeoutMs' | 'forceSyncCommit'>;

/** Deletes one chunk of rows older than `cutoff`, oldest first (see `pruneAuditChunk`). */
export async function prunePgAuditChunk(
  client: ClientBase,
  lock: LockOptions,
  opts: { cutoff: number; secret: string; chunkRows: number; now: number },
): Promise<PruneAuditResult> {
  try {
    const head = await beginChainTransaction(client, lock);
    let last: { seq: number; hash: string } | undefined;
    if (head.seq > 0) {
      const { rows } = await timedQuery<{ seq: string; time: string; hash: string }>(
        client,
        'SELECT seq, time, hash FROM audit_log ORDER BY seq LIMIT $1',
        [opts.chunkRows],
        lock.queryTimeoutMs,
      );
      for (const row of rows) {
        // Stops at the first recent row, so a clock step backwards never deletes a recent one.
        if (Number(row.time) >= opts.cutoff || Number(row.seq) >= head.seq) break;
        last = { seq: Number(row.seq), hash: row.hash };
      }
    }
    if (!last) {
      await client.query('COMMIT');
      return { deleted: 0, prunedThrough: null };
    }
    const deleted = await timedQuery(client, 'DELETE FROM audit_log WHERE seq <= $1', [last.seq], lock.queryTimeoutMs);
    await insertPgCheckpoint(client, opts.secret, { kind: 'prune', seq: last.seq, headHash: last.hash, time: opts.now }, lock.queryTimeoutMs);
    // Checkpoints about deleted rows say nothing verification can still check; `start` ones are
    // recovery watermarks here (`audit-recover.ts`), and one below the prune point is as good as none.
    await timedQuery(
      client,
      `DELETE FROM audit_checkpoints WHERE (kind IN ('head', 'start') AND seq <= $1) OR (kind = 'prune' AND seq < $1)`,
      [last.seq],
      lock.queryTimeoutMs,
    );
    await timedQuery(client, 'COMMIT', undefined, lock.queryTimeoutMs);
    return { deleted: deleted.rowCount ?? 0, prunedThrough: last.seq };
  } catch (err) {
    await rollback(client, err);
    throw err;
  }
}

/** Default lock and statement bounds of one-off connections (CLI, readers). */
export const ONE_OFF_LOCK: LockOptions = { lockTimeoutMs: 10_000, queryTimeoutMs: 60_000, forceSyncCommit: false };

/**
 * Prunes the audit log at `url` on a connection of its own, chunk by chunk (for the CLI and
 * for a gateway without a running writer; a running writer prunes between its batches).
 */
export async function prunePgAudit(url: string, options: PruneAuditOptions): Promise<PruneAuditResult> {
  checkPruneOptions(options);
  const now = options.now ?? Date.now();
  const { pool } = await connectPostgres({ url, skipMigrations: true, max: 1 });
  try {
    return await withPoolClient(pool, (client) =>
      pruneAllChunks(client, ONE_OFF_LOCK, {
        cutoff: retentionCutoff(options.retentionDays, now),
        secret: options.secret,
        chunkRows: options.chunkRows ?? 5000,
        now,
      }),
    );
  } finally {
    await pool.end();
  }
}

/** Runs chunks until one deletes nothing. */
export async function pruneAllChunks(
  client: ClientBase,
  lock: LockOptions,
  opts: { cutoff: number; secret: string; chunkRows: number; now: number },
): Promise<PruneAuditResult> {
  const total: PruneAuditResult = { deleted: 0, prunedThrough: null };
  for (;;) {
    const chunk = await prunePgAuditChunk(client, lock, opts);
    if (chunk.deleted === 0) return total;
    total.deleted += chunk.deleted;
    total.prunedThrough = chunk.prunedThrough;
  }
}
