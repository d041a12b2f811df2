import { performance } from 'node:perf_hooks';
import { PortcullisError } from '../../errors.js';
import { compileRedaction } from '../audit-args.js';
import { checkAuditRecord, toAuditRowValues, type AuditRowValues } from '../audit-record.js';
import { createFlushSchedule } from '../audit-flush-schedule.js';
import type { AuditWriter } from '../audit-writer-api.js';
import type { AuditWriterStats } from '../audit-writer-options.js';
import { commitPgBatch, createPgChainContext, StaleConnectionError } from './audit-batch.js';
import { createPgWriterConnection, describePgError } from './audit-writer-connection.js';
import { storeFailure } from '../audit-writer-api.js';
import { compilePgWriterOptions, type PostgresAuditWriterOptions } from './audit-writer-options.js';
import { startPgWriterUpkeep, type UpkeepTask } from './audit-writer-upkeep.js';
import { withPoolClient } from './with-client.js';

export type { PostgresAuditWriterOptions } from './audit-writer-options.js';

interface Pending {
  /** The row values, built at append time: the caller's object may change after `append` returns. */
  values: AuditRowValues;
  resolve: (value: { seq: number }) => void;
  reject: (err: Error) => void;
}

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
 *
 * This file is the queue and the loop; the pool and `ready()` are `audit-writer-connection.ts`,
 * the work between batches (checkpoints, orphan sweeps, retention) `audit-writer-upkeep.ts`.
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

  let queue: Pending[] = [];
  const tasks: UpkeepTask[] = [];
  let running = false;
  let closing = false;
  let closePromise: Promise<void> | undefined;
  let idle: (() => void) | undefined;
  const stats: AuditWriterStats = {
    queued: 0, inFlightBatches: 0, committed: 0, rejected: 0, batches: 0, failedBatches: 0,
    maxBatchSize: 0, lastSeq: null, lastCommitMs: 0, workerStarts: 0,
  };

  const fail = (err: PortcullisError): void => {
    try {
      onFailure?.(err);
    } catch {
      // A failing logger must not take the writer down with it.
    }
  };

  const connection = createPgWriterConnection(cfg, ctx, stats, fail);
  const { withClient } = connection;

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
      const e = cause instanceof PortcullisError ? cause : storeFailure(`audit store failed: ${describePgError(cause)}`, cause);
      for (const p of batch) p.reject(e);
      fail(e);
    } finally {
      stats.inFlightBatches = 0;
    }
  }

  /** The one loop: a batch, then a task, until both are empty; never two at once. */
  async function pump(): Promise<void> {
    schedule.cancel();
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

  const schedule = createFlushSchedule(cfg.flushMs, cfg.deferMs, () => void pump());

  const upkeep = startPgWriterUpkeep(cfg, ctx, connection, {
    enqueue(task) {
      tasks.push(task);
      void pump();
    },
    requeue: (task) => void tasks.push(task),
    closing: () => closing,
  });

  void connection.open().catch(() => undefined); // at once, so ready() settles; appends queued meanwhile flush on their own schedule

  return {
    ready: () => connection.ready,

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
        // A running pump takes what is queued when its batch ends.
        if (queue.length >= cfg.batchSize) void pump();
        else if (!running && appendOptions?.defer) schedule.later();
        else if (!running) schedule.soon();
      });
    },

    prune(retentionDays = cfg.retentionDays ?? undefined) {
      if (closing) return Promise.reject(storeFailure('audit writer is closed'));
      if (retentionDays === undefined || !(retentionDays > 0)) {
        return Promise.reject(new TypeError('audit writer: prune needs retentionDays > 0'));
      }
      return upkeep.prune(retentionDays);
    },

    close() {
      closePromise ??= (async () => {
        closing = true;
        upkeep.stop();
        void pump();
        while (running || queue.length || tasks.length) await new Promise<void>((r) => (idle = r));
        const c = await connection.release();
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
