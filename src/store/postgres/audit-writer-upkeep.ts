import { PortcullisError } from '../../errors.js';
import { retentionCutoff, type PruneAuditResult } from '../audit-retention.js';
import { commitPgBatch, type PgChainContext } from './audit-batch.js';
import { scanOrphanedAttempts, settleOrphans } from './audit-recover.js';
import { prunePgAuditChunk } from './audit-retention.js';
import type { PgWriterConfig } from './audit-writer-options.js';
import { describePgError, type PgWriterConnection } from './audit-writer-connection.js';
import { storeFailure } from '../audit-writer-api.js';

/** Work that runs between batches, one step at a time (checkpoints, orphan sweeps, prune chunks). */
export type UpkeepTask = () => Promise<void>;

/** How upkeep reaches the writer's loop. */
export interface UpkeepLoop {
  /** Queues a task and wakes the loop. */
  enqueue(task: UpkeepTask): void;
  /** Queues a task from inside a running task: the loop, already awake, picks it up next. */
  requeue(task: UpkeepTask): void;
  /** True once the writer is closing: no new background work starts. */
  closing(): boolean;
}

/** The Postgres audit writer's background work; `stop` clears its timers. */
export interface PgWriterUpkeep {
  /** Prunes rows older than `retentionDays`, one chunk per task; a prune under way is shared. */
  prune(retentionDays: number): Promise<PruneAuditResult>;
  stop(): void;
}

/**
 * What the Postgres audit writer does besides batches, each step a task on the writer's one loop
 * so it never runs beside a batch on the chain: a signed head checkpoint once `checkpointMs`
 * passed with rows unsigned, a periodic sweep for orphaned attempts (the scan reads beside the
 * batches; only settling takes the loop), and retention in chunks. Timers are unref'd and do
 * nothing while the pool is not open.
 */
export function startPgWriterUpkeep(cfg: PgWriterConfig, ctx: PgChainContext, connection: PgWriterConnection, loop: UpkeepLoop): PgWriterUpkeep {
  const { withClient } = connection;
  let checkpointQueued = false;
  let sweeping = false;
  let pruning: Promise<PruneAuditResult> | undefined;

  const checkpointTimer = setInterval(() => {
    if (!connection.isOpen() || checkpointQueued || ctx.uncheckpointed === 0 || Date.now() - ctx.lastCheckpointAt < cfg.checkpointMs) return;
    checkpointQueued = true;
    loop.enqueue(async () => {
      checkpointQueued = false;
      if (ctx.uncheckpointed > 0) await withClient((client) => commitPgBatch(client, ctx, [], 'head'));
    });
  }, Math.max(50, Math.floor(cfg.checkpointMs / 2)));
  checkpointTimer.unref();

  // The scan reads on a second pooled client beside the batches; only settling takes the loop.
  const sweepTimer = setInterval(() => {
    if (!connection.isOpen() || sweeping || loop.closing()) return;
    sweeping = true;
    const now = Date.now();
    withClient((client) => scanOrphanedAttempts(client, { secret: cfg.secret, orphanAfterMs: cfg.orphanAfterMs, now }))
      .then((scan) => loop.closing() || loop.enqueue(() => withClient((client) => settleOrphans(client, ctx, scan, now)).then(() => undefined)))
      .catch(() => undefined) // a failed sweep is retried by the next one
      .finally(() => (sweeping = false));
  }, cfg.recoverIntervalMs);
  sweepTimer.unref();

  const pruneTimer =
    cfg.retentionDays === null ? undefined : setInterval(() => void prune(cfg.retentionDays!).catch(() => undefined), cfg.pruneIntervalMs);
  pruneTimer?.unref();

  /** One chunk per task, so batches commit between chunks and retention never stalls the hot path. */
  function prune(retentionDays: number): Promise<PruneAuditResult> {
    pruning ??= new Promise<PruneAuditResult>((resolve, reject) => {
      const now = Date.now();
      const total: PruneAuditResult = { deleted: 0, prunedThrough: null };
      const chunk: UpkeepTask = async () => {
        try {
          const r = await withClient((client) =>
            prunePgAuditChunk(client, ctx, { cutoff: retentionCutoff(retentionDays, now), secret: cfg.secret, chunkRows: 2000, now }),
          );
          total.deleted += r.deleted;
          if (r.prunedThrough !== null) total.prunedThrough = r.prunedThrough;
          if (r.deleted > 0 && !loop.closing()) loop.requeue(chunk);
          else resolve(total);
        } catch (err) {
          reject(err instanceof PortcullisError ? err : storeFailure(`audit prune failed: ${describePgError(err)}`, err));
        }
      };
      loop.enqueue(chunk);
    }).finally(() => (pruning = undefined));
    return pruning;
  }

  return {
    prune,
    stop() {
      clearInterval(checkpointTimer);
      clearInterval(sweepTimer);
      if (pruneTimer) clearInterval(pruneTimer);
    },
  };
}
