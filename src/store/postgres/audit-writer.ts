import { performance } from 'node:perf_hooks';
import type { PoolClient } from 'pg';
import { PortcullisError } from '../../errors.js';
import { compileRedaction } from '../audit-args.js';
import { checkAuditRecord, toAuditRowValues, type AuditRowValues } from '../audit-record.js';
import { retentionCutoff, type PruneAuditResult } from '../audit-retention.js';
import type { AuditWriter, AuditWriterStats } from '../audit-writer.js';
import { commitPgBatch, createPgChainContext, StaleConnectionError } from './audit-batch.js';
import { scanOrphanedAttempts, settleOrphans } from './audit-recover.js';
import { prunePgAuditChunk } from './audit-retention.js';
import { compilePgWriterOptions, type PostgresAuditWriterOptions } from './audit-writer-options.js';
import { connectPostgres, redactUrl, type PgConnection } from './connect.js';
import { withPoolClient } from './with-client.js';

export type { PostgresAuditWriterOptions } from './audit-writer-options.js';

interface Pending {
  /** The row values, built at append time: the caller's object may change after `append` returns. */
  values: AuditRowValues;
  resolve: (value: { seq: number }) => void;
  reject: (err: Error) => void;
}

/** Work that runs between batches, one step at a time (checkpoints, orphan sweeps, prune chunks). */
type Task = () => Promise<void>;

const storeFailure = (message: string, cause?: unknown): PortcullisError =>
  new PortcullisError('STORE_FAILURE', message, cause === undefined ? undefined : { cause });

const describe = (err: unknown): string => {
  const code = (err as { code?: unknown })?.code;
  return `${typeof code === 'string' ? `(${code}) ` : ''}${(err as Error)?.message ?? String(err)}`;
};

/**
 * The audit writer on Postgres: the interface and guarantees of `../audit-writer.ts`, without a
 * worker thread (the database does the disk work in its own process). `append` only queues
 * (hot path: a shape check, the row values and an array push; no I/O, no await); one batch is in
 * flight at a time, and each batch is ONE transaction that takes the chain's advisory lock, so
 * gateway instances sharing the database extend one gapless chain (`audit-batch.ts`). Every
 * promise settles after its batch's COMMIT returned.
 *
 * Fail-closed like the SQLite writer: a failed batch rejects all its appends with
 * `PortcullisError('STORE_FAILURE')` (so the gate refuses those calls with the same wire error),
 * its connection is dropped, and the next batch tries a fresh one: the writer recovers by itself
 * when the database does. A database that is down at start rejects `ready()`; appends keep
 * trying to open it.
 *
 * `AuditSqlOp`s (`append(record, { ops })`) are SQLite SQL run on the SQLite worker; here they
 * are refused, never half-run: a budget write that must commit with its record needs a Postgres
 * form of its own.
 */
export function createPostgresAuditWriter(options: PostgresAuditWriterOptions): AuditWriter {
  const cfg = compilePgWriterOptions(options);
  const redact = compileRedaction(cfg.redactKeys);
  const ctx = createPgChainContext({
    secret: cfg.secret,
    redact,
    checkpointEvery: cfg.checkpointEvery,
    checkpointMs: cfg.checkpointMs,
    lockTimeoutMs: cfg.lockTimeoutMs,
    queryTimeoutMs: cfg.queryTimeoutMs,
    forceSyncCommit: cfg.forceSyncCommit,
  });
  const onFailure = options.onFailure;
  const where = redactUrl(cfg.url);

  let conn: PgConnection | undefined;
  let opening: Promise<PgConnection> | undefined;
  let recoverPending = true;
  let queue: Pending[] = [];
  const tasks: Task[] = [];
  let running = false;
  let flushTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  let closing = false;
  /** Set once close() let go of the pool: nothing may open a new one. */
  let closed = false;
  let closePromise: Promise<void> | undefined;
  let idle: (() => void) | undefined;
  let checkpointQueued = false;
  let sweeping = false;
  let pruning: Promise<PruneAuditResult> | undefined;
  const stats: AuditWriterStats = {
    queued: 0, inFlightBatches: 0, committed: 0, rejected: 0, batches: 0, failedBatches: 0,
    maxBatchSize: 0, lastSeq: null, lastCommitMs: 0, workerStarts: 0,
  };

  let settleReady!: { resolve: (v: { seq: number; hash: string; recovered: number }) => void; reject: (e: Error) => void };
  let readySettled = false;
  const readyPromise = new Promise<{ seq: number; hash: string; recovered: number }>((resolve, reject) => {
    settleReady = { resolve, reject };
  });
  readyPromise.catch(() => {}); // observed through ready(); never an unhandled rejection

  const fail = (err: PortcullisError): void => {
    try {
      onFailure?.(err);
    } catch {
      // A failing logger must not take the writer down with it.
    }
  };

  /** The writer's pool, opened (and, the first time, swept for orphans) on demand. */
  function open(): Promise<PgConnection> {
    if (conn) return Promise.resolve(conn);
    if (closed) return Promise.reject(storeFailure('audit writer is closed'));
    opening ??= (async () => {
      const c = await connectPostgres({ url: cfg.url, skipMigrations: cfg.skipMigrations, max: 2, onPoolError: () => {} });
      try {
        let recovered = 0;
        const head = await withPoolClient(
          c.pool,
          async (client) => {
            if (recoverPending) {
              const now = Date.now();
              const scan = await scanOrphanedAttempts(client, { secret: cfg.secret, orphanAfterMs: cfg.orphanAfterMs, now });
              recovered = await settleOrphans(client, ctx, scan, now, true);
              recoverPending = false;
            }
            return (await commitPgBatch(client, ctx, [])).head;
          },
          cfg.queryTimeoutMs,
        );
        stats.workerStarts += 1;
        conn = c;
        if (!readySettled) {
          readySettled = true;
          settleReady.resolve({ ...head, recovered });
        }
        return c;
      } catch (err) {
        await c.pool.end().catch(() => undefined);
        throw err;
      }
    })()
      .catch((err: unknown) => {
        const e = storeFailure(`cannot open the audit log ${where}: ${describe(err)}`, err);
        // Reported here only at start; a batch that failed to open reports its own failure.
        if (!readySettled) {
          readySettled = true;
          settleReady.reject(e);
          fail(e);
        }
        throw e;
      })
      .finally(() => (opening = undefined));
    return opening;
  }

  /** Runs `fn` on a client of the writer's pool; a client that saw an error is destroyed, not reused. */
  async function withClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    return withPoolClient((await open()).pool, fn, cfg.queryTimeoutMs);
  }

  async function runBatch(batch: Pending[]): Promise<void> {
    stats.inFlightBatches = 1;
    stats.maxBatchSize = Math.max(stats.maxBatchSize, batch.length);
    const started = performance.now();
    try {
      const items = batch.map((p) => ({ values: p.values }));
      const commit = () => withClient((client) => commitPgBatch(client, ctx, items));
      // A pooled connection the server dropped while idle fails before writing anything: once, the
      // batch runs again on a fresh one rather than failing calls after every database restart.
      const { results } = await commit().catch((err: unknown) => {
        if (err instanceof StaleConnectionError) return commit();
        throw err;
      });
      stats.batches += 1;
      stats.lastCommitMs = performance.now() - started;
      for (let i = 0; i < batch.length; i++) {
        const r = results[i];
        if (typeof r === 'number') {
          stats.committed += 1;
          stats.lastSeq = r;
          batch[i].resolve({ seq: r });
        } else {
          stats.rejected += 1;
          batch[i].reject(storeFailure(`audit record refused: ${r.error}`));
        }
      }
    } catch (err) {
      stats.failedBatches += 1;
      stats.rejected += batch.length;
      const cause = err instanceof StaleConnectionError ? err.original : err;
      const e = cause instanceof PortcullisError ? cause : storeFailure(`audit store failed: ${describe(cause)}`, cause);
      for (const p of batch) p.reject(e);
      fail(e);
    } finally {
      stats.inFlightBatches = 0;
    }
  }

  /** The one loop: a batch, then a task, until both are empty; never two at once. */
  async function pump(): Promise<void> {
    if (flushTimer) {
      if (cfg.flushMs === 0) clearImmediate(flushTimer as NodeJS.Immediate);
      else clearTimeout(flushTimer as NodeJS.Timeout);
      flushTimer = undefined;
    }
    if (running) return;
    running = true;
    try {
      while (queue.length || tasks.length) {
        if (queue.length) {
          const batch = queue.length <= cfg.batchSize ? queue : queue.slice(0, cfg.batchSize);
          queue = queue.length <= cfg.batchSize ? [] : queue.slice(cfg.batchSize);
          await runBatch(batch);
        }
        const task = tasks.shift();
        if (task) await task().catch(() => undefined);
      }
    } finally {
      running = false;
      idle?.();
    }
  }

  function schedule(): void {
    if (running || flushTimer) return;
    flushTimer = cfg.flushMs === 0 ? setImmediate(pump) : setTimeout(pump, cfg.flushMs);
  }

  function enqueue(task: Task): void {
    tasks.push(task);
    void pump();
  }

  const checkpointTimer = setInterval(() => {
    if (!conn || checkpointQueued || ctx.uncheckpointed === 0 || Date.now() - ctx.lastCheckpointAt < cfg.checkpointMs) return;
    checkpointQueued = true;
    enqueue(async () => {
      checkpointQueued = false;
      if (ctx.uncheckpointed > 0) await withClient((client) => commitPgBatch(client, ctx, [], 'head'));
    });
  }, Math.max(50, Math.floor(cfg.checkpointMs / 2)));
  checkpointTimer.unref();

  // The scan reads on a second pooled client beside the batches; only settling takes the loop.
  const sweepTimer = setInterval(() => {
    if (!conn || sweeping || closing) return;
    sweeping = true;
    const now = Date.now();
    withClient((client) => scanOrphanedAttempts(client, { secret: cfg.secret, orphanAfterMs: cfg.orphanAfterMs, now }))
      .then((scan) => closing || enqueue(() => withClient((client) => settleOrphans(client, ctx, scan, now)).then(() => undefined)))
      .catch(() => undefined) // a failed sweep is retried by the next one
      .finally(() => (sweeping = false));
  }, cfg.recoverIntervalMs);
  sweepTimer.unref();

  const pruneTimer =
    cfg.retentionDays === null ? undefined : setInterval(() => void startPrune(cfg.retentionDays!).catch(() => undefined), cfg.pruneIntervalMs);
  pruneTimer?.unref();

  /** One chunk per task, so batches commit between chunks and retention never stalls the hot path. */
  function startPrune(retentionDays: number): Promise<PruneAuditResult> {
    pruning ??= new Promise<PruneAuditResult>((resolve, reject) => {
      const now = Date.now();
      const total: PruneAuditResult = { deleted: 0, prunedThrough: null };
      const chunk: Task = async () => {
        try {
          const r = await withClient((client) =>
            prunePgAuditChunk(client, ctx, { cutoff: retentionCutoff(retentionDays, now), secret: cfg.secret, chunkRows: 2000, now }),
          );
          total.deleted += r.deleted;
          if (r.prunedThrough !== null) total.prunedThrough = r.prunedThrough;
          if (r.deleted > 0 && !closing) tasks.push(chunk);
          else resolve(total);
        } catch (err) {
          reject(err instanceof PortcullisError ? err : storeFailure(`audit prune failed: ${describe(err)}`, err));
        }
      };
      enqueue(chunk);
    }).finally(() => (pruning = undefined));
    return pruning;
  }

  void open().catch(() => undefined); // at once, so ready() settles; appends queued meanwhile flush on their own schedule

  return {
    ready: () => readyPromise,

    // hot path: a shape check, the row values (digest, redaction) and an array push; no I/O, no await.
    append(record, appendOptions) {
      if (closing) return Promise.reject(storeFailure('audit writer is closed'));
      if (appendOptions?.ops?.length) {
        return Promise.reject(new TypeError('audit writer: ops (SQLite SQL run with a record) are not supported on Postgres'));
      }
      let values: AuditRowValues;
      try {
        checkAuditRecord(record);
      } catch (err) {
        return Promise.reject(err);
      }
      try {
        values = toAuditRowValues(record, redact, Date.now());
      } catch (err) {
        stats.rejected += 1;
        return Promise.reject(storeFailure(`audit record refused: ${(err as Error).message}`));
      }
      if (queue.length >= cfg.maxQueue) {
        stats.rejected += 1;
        return Promise.reject(storeFailure(`audit queue is full (${cfg.maxQueue} records waiting for the store)`));
      }
      return new Promise((resolve, reject) => {
        queue.push({ values, resolve, reject });
        if (queue.length >= cfg.batchSize) void pump();
        else schedule();
      });
    },

    prune(retentionDays = cfg.retentionDays ?? undefined) {
      if (closing) return Promise.reject(storeFailure('audit writer is closed'));
      if (retentionDays === undefined || !(retentionDays > 0)) {
        return Promise.reject(new TypeError('audit writer: prune needs retentionDays > 0'));
      }
      return startPrune(retentionDays);
    },

    close() {
      closePromise ??= (async () => {
        closing = true;
        clearInterval(checkpointTimer);
        clearInterval(sweepTimer);
        if (pruneTimer) clearInterval(pruneTimer);
        void pump();
        while (running || queue.length || tasks.length) await new Promise<void>((r) => (idle = r));
        await opening?.catch(() => undefined);
        closed = true;
        const c = conn;
        conn = undefined;
        if (!c) return;
        if (ctx.uncheckpointed > 0) {
          // The rows are committed; a missing closing checkpoint is written by the next writer's start.
          await withPoolClient(c.pool, (client) => commitPgBatch(client, ctx, [], 'head'), cfg.queryTimeoutMs).catch(() => undefined);
        }
        await c.pool.end().catch(() => undefined);
      })();
      return closePromise;
    },

    stats: () => ({ ...stats, queued: queue.length }),
  };

}
