/**
 * The audit writer's thread: owns the one write connection to the audit log and runs every
 * synchronous, disk-bound step (transactions, fsync under `power`, hashing, pruning) off the
 * gateway's event loop. Started by `audit-writer.ts`; speaks `audit-messages.ts`.
 *
 * Failure handling: any failed batch closes the connection, and the next batch opens a fresh
 * one, so the writer recovers by itself once the disk has room or the lock is released. Nothing
 * is retried silently: the failed batch's callers are told, and the gateway refuses their calls.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { compileRedaction } from './audit-args.js';
import {
  checkpointIfDirty,
  commitBatch,
  createChainContext,
  readChainHead,
  type AuditBatchItem,
  type ChainContext,
} from './audit-batch.js';
import { openAuditDb } from './audit-db.js';
import type { AuditWorkerConfig, FromAuditWorker, StoreFailureInfo, ToAuditWorker } from './audit-messages.js';
import { recoverUnfinishedAttempts } from './audit-recover.js';
import { pruneAuditChunk, retentionCutoff, type PruneAuditResult } from './audit-retention.js';

const port = parentPort!;
const config = workerData as AuditWorkerConfig;
const redact = compileRedaction(config.redactKeys);
let ctx: ChainContext | undefined;
let recoverPending = config.recover;
let pruning: Promise<PruneAuditResult> | undefined;
let closed = false;

const post = (msg: FromAuditWorker): void => port.postMessage(msg);

function failure(err: unknown): StoreFailureInfo {
  const code = (err as { code?: unknown }).code;
  return { message: (err as Error)?.message ?? String(err), ...(typeof code === 'string' ? { code } : {}) };
}

/** The open chain context, opening (and on the first open, recovering) if needed. */
function open(): ChainContext {
  if (ctx) return ctx;
  const db = openAuditDb(config.file, {
    durability: config.durability,
    busyTimeoutMs: config.busyTimeoutMs,
    skipMigrations: config.skipMigrations,
  });
  try {
    const next = createChainContext(db, {
      secret: config.secret,
      redact,
      checkpointEvery: config.checkpointEvery,
      checkpointMs: config.checkpointMs,
    });
    const recovered = recoverPending ? recoverUnfinishedAttempts(next) : 0;
    recoverPending = false;
    ctx = next;
    post({ type: 'opened', ...readChainHead(next), recovered });
    return next;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Drops a connection that failed; the next batch reopens (a fresh handle clears any I/O state). */
function drop(): void {
  try {
    ctx?.db.close();
  } catch {
    // Already broken; the reopen is what matters.
  }
  ctx = undefined;
}

async function prune(retentionDays: number, now: number): Promise<PruneAuditResult> {
  const total: PruneAuditResult = { deleted: 0, prunedThrough: null };
  while (!closed) {
    const c = open();
    const chunk = pruneAuditChunk(c.db, {
      cutoff: retentionCutoff(retentionDays, now),
      secret: config.secret,
      chunkRows: 2000,
      now,
    });
    if (chunk.deleted === 0) return total;
    total.deleted += chunk.deleted;
    total.prunedThrough = chunk.prunedThrough;
    // Let queued batches commit between chunks: retention must not stall the hot path.
    await yieldToLoop();
  }
  return total;
}

function startPrune(retentionDays: number, now: number): Promise<PruneAuditResult> {
  pruning ??= prune(retentionDays, now).finally(() => {
    pruning = undefined;
  });
  return pruning;
}

const checkpointTimer = setInterval(() => {
  if (!ctx || Date.now() - ctx.lastCheckpointAt < config.checkpointMs) return;
  try {
    checkpointIfDirty(ctx);
  } catch {
    drop();
  }
}, Math.max(50, Math.floor(config.checkpointMs / 2)));

const pruneTimer =
  config.retentionDays === null
    ? undefined
    : setInterval(() => {
        startPrune(config.retentionDays!, Date.now()).catch(drop);
      }, config.pruneIntervalMs);

port.on('message', (msg: ToAuditWorker) => {
  switch (msg.type) {
    case 'batch': {
      const started = performance.now();
      try {
        const { results } = commitBatch(open(), JSON.parse(msg.json) as AuditBatchItem[]);
        post({ type: 'batch_done', id: msg.id, results, commitMs: performance.now() - started });
      } catch (err) {
        drop();
        post({ type: 'batch_failed', id: msg.id, ...failure(err) });
      }
      return;
    }
    case 'prune':
      startPrune(msg.retentionDays, msg.now).then(
        (result) => post({ type: 'pruned', id: msg.id, result }),
        (err) => {
          drop();
          post({ type: 'prune_failed', id: msg.id, ...failure(err) });
        },
      );
      return;
    case 'close':
      clearInterval(checkpointTimer);
      if (pruneTimer) clearInterval(pruneTimer);
      closed = true;
      if (ctx) {
        try {
          checkpointIfDirty(ctx);
        } catch {
          // The rows are committed; only the closing checkpoint is missing, and the next start
          // or the periodic one writes it.
        }
        drop();
      }
      post({ type: 'closed' });
      return;
  }
});

try {
  open();
} catch (err) {
  post({ type: 'open_failed', ...failure(err) });
}
