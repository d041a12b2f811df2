import type { Worker } from 'node:worker_threads';
import { PortcullisError } from '../errors.js';
import { encodeAppend, type FromAuditWorker } from './audit-messages.js';
import type { PruneAuditResult } from './audit-retention.js';
import { storeFailure, type AuditWriter } from './audit-writer-api.js';
import { createFlushSchedule } from './audit-flush-schedule.js';
import { startAuditWorker } from './audit-worker-start.js';
import {
  compileQueueOptions,
  compileWriterOptions,
  type AuditWriterOptions,
  type AuditWriterStats,
} from './audit-writer-options.js';

export type { AuditAppendOptions, AuditWriterOptions, AuditWriterStats } from './audit-writer-options.js';
export type { AuditWriter } from './audit-writer-api.js';

interface Pending {
  /** The record and its ops as JSON, serialised at append time (see `append`). */
  json: string;
  resolve: (value: { seq: number }) => void;
  reject: (err: Error) => void;
}

/** Two batches in flight: the worker finds the next one waiting when it finishes a commit. */
const MAX_IN_FLIGHT = 2;
const CLOSE_TIMEOUT_MS = 10_000;

/**
 * The audit writer: group commit on a worker thread. `append` only queues (hot path: an array
 * push and, at most once per turn, a scheduled flush); batches of up to `batchSize` records go
 * to the worker, which commits each in one transaction and answers with the seqs. Every promise
 * settles after its batch's COMMIT returned, which under `power` includes the WAL fsync.
 *
 * Fail-closed: when the store fails, every record of the failed batch rejects with
 * `PortcullisError('STORE_FAILURE')` and the gateway must refuse those calls. The next batch
 * retries on a fresh connection, so service resumes by itself when the store does. If the worker
 * thread dies, in-flight records reject the same way and the next batch starts a new worker.
 *
 * @example
 * const audit = createAuditWriter({ file, durability: 'process', secret });
 * await audit.ready(); // start-up: opens, migrates, marks orphaned attempts outcome_unknown
 * // per tools/call, after the decision and before forwarding:
 * await audit.append({ kind: 'attempt', requestKey, decision, ... }, { ops: budgetOps });
 * // after the answer, not awaited (a failure is reported through onFailure):
 * audit.append({ kind: 'outcome', requestKey, status, isError, latencyMs, bytes }).catch(() => {});
 * await audit.close(); // shutdown, after in-flight calls finished
 */
export function createAuditWriter(options: AuditWriterOptions): AuditWriter {
  const config = compileWriterOptions(options);
  const { batchSize, flushMs, deferMs, maxQueue } = compileQueueOptions(options);
  const onFailure = options.onFailure;

  let queue: Pending[] = [];
  const inFlight = new Map<number, Pending[]>();
  const pruneWaiters = new Map<number, { resolve: (r: PruneAuditResult) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let worker: Worker | undefined;
  let closing = false;
  let closePromise: Promise<void> | undefined;
  let drained: (() => void) | undefined;
  let onClosed: (() => void) | undefined;
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

  function rejectBatch(batch: Pending[], err: PortcullisError): void {
    stats.rejected += batch.length;
    for (const p of batch) p.reject(err);
  }

  /** A worker stays ref'd only while it has work, so an idle writer never holds the process open. */
  function updateRef(): void {
    if (!worker) return;
    if (queue.length || inFlight.size || pruneWaiters.size || !readySettled || closing) worker.ref();
    else worker.unref();
  }

  function spawn(): Worker {
    const w = startAuditWorker({ ...config, recover: stats.workerStarts === 0 });
    stats.workerStarts += 1;
    w.on('message', (msg: FromAuditWorker) => onMessage(msg));
    const lost = (why: string, cause?: unknown): void => {
      if (worker !== w) return;
      worker = undefined;
      const err = storeFailure(`audit worker stopped: ${why}`, cause);
      if (!readySettled) {
        readySettled = true;
        settleReady.reject(err);
      }
      for (const [id, batch] of inFlight) {
        inFlight.delete(id);
        rejectBatch(batch, err);
      }
      for (const [id, waiter] of pruneWaiters) {
        pruneWaiters.delete(id);
        waiter.reject(err);
      }
      onClosed?.();
      if (!closing) fail(err);
      afterSettle();
    };
    w.on('error', (err) => lost(err.message, err));
    w.on('exit', (code) => lost(`exit code ${code}`));
    return w;
  }

  function onMessage(msg: FromAuditWorker): void {
    switch (msg.type) {
      case 'opened':
        if (!readySettled) {
          readySettled = true;
          settleReady.resolve({ seq: msg.seq, hash: msg.hash, recovered: msg.recovered });
        }
        break;
      case 'open_failed': {
        const err = storeFailure(`cannot open the audit log ${config.file}: ${msg.message}`);
        if (!readySettled) {
          readySettled = true;
          settleReady.reject(err);
        }
        fail(err);
        break;
      }
      case 'batch_done': {
        const batch = inFlight.get(msg.id);
        if (!batch) return;
        inFlight.delete(msg.id);
        stats.batches += 1;
        stats.lastCommitMs = msg.commitMs;
        for (let i = 0; i < batch.length; i++) {
          const r = msg.results[i];
          if (typeof r === 'number') {
            stats.committed += 1;
            stats.lastSeq = r;
            batch[i].resolve({ seq: r });
          } else {
            stats.rejected += 1;
            batch[i].reject(storeFailure(`audit record refused: ${r.error}`));
          }
        }
        break;
      }
      case 'batch_failed': {
        const batch = inFlight.get(msg.id);
        if (!batch) return;
        inFlight.delete(msg.id);
        stats.failedBatches += 1;
        const err = storeFailure(`audit store failed${msg.code ? ` (${msg.code})` : ''}: ${msg.message}`);
        rejectBatch(batch, err);
        fail(err);
        break;
      }
      case 'pruned':
      case 'prune_failed': {
        const waiter = pruneWaiters.get(msg.id);
        pruneWaiters.delete(msg.id);
        if (msg.type === 'pruned') waiter?.resolve(msg.result);
        else waiter?.reject(storeFailure(`audit prune failed: ${msg.message}`));
        break;
      }
      case 'closed':
        onClosed?.();
        return;
    }
    afterSettle();
  }

  function afterSettle(): void {
    if (queue.length) flush();
    stats.queued = queue.length;
    stats.inFlightBatches = inFlight.size;
    if (!queue.length && !inFlight.size) drained?.();
    updateRef();
  }

  function flush(): void {
    schedule.cancel();
    while (inFlight.size < MAX_IN_FLIGHT && queue.length) {
      let batch: Pending[];
      if (queue.length <= batchSize) {
        batch = queue;
        queue = [];
      } else {
        batch = queue.splice(0, batchSize);
      }
      try {
        worker ??= spawn();
      } catch (err) {
        rejectBatch(batch, err instanceof PortcullisError ? err : storeFailure((err as Error).message, err));
        continue;
      }
      const id = nextId++;
      worker.postMessage({ type: 'batch', id, json: `[${batch.map((p) => p.json).join(',')}]` });
      inFlight.set(id, batch);
      stats.maxBatchSize = Math.max(stats.maxBatchSize, batch.length);
    }
    stats.queued = queue.length;
    stats.inFlightBatches = inFlight.size;
    updateRef();
  }

  const schedule = createFlushSchedule(flushMs, deferMs, flush);

  worker = spawn();

  return {
    ready: () => readyPromise,

    // hot path: a shape check, one JSON.stringify (encodeAppend) and an array push; no I/O, no await.
    append(record, appendOptions) {
      if (closing) return Promise.reject(storeFailure('audit writer is closed'));
      let json: string;
      try {
        json = encodeAppend(record, appendOptions, Date.now());
      } catch (err) {
        return Promise.reject(err);
      }
      if (queue.length >= maxQueue) {
        stats.rejected += 1;
        return Promise.reject(storeFailure(`audit queue is full (${maxQueue} records waiting for the store)`));
      }
      return new Promise((resolve, reject) => {
        queue.push({ json, resolve, reject });
        if (queue.length >= batchSize) flush();
        else if (appendOptions?.defer) schedule.later();
        else schedule.soon();
      });
    },

    prune(retentionDays = config.retentionDays ?? undefined) {
      if (closing) return Promise.reject(storeFailure('audit writer is closed'));
      if (retentionDays === undefined || !(retentionDays > 0)) {
        return Promise.reject(new TypeError('audit writer: prune needs retentionDays > 0'));
      }
      const id = nextId++;
      return new Promise<PruneAuditResult>((resolve, reject) => {
        pruneWaiters.set(id, { resolve, reject });
        worker ??= spawn();
        worker.postMessage({ type: 'prune', id, retentionDays, now: Date.now() });
        updateRef();
      });
    },

    close() {
      closePromise ??= (async () => {
        closing = true;
        flush();
        if (queue.length || inFlight.size) await new Promise<void>((r) => (drained = r));
        const w = worker;
        if (!w) return;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
          onClosed = () => {
            clearTimeout(timer);
            resolve();
          };
          w.postMessage({ type: 'close' });
        });
        worker = undefined;
        await w.terminate();
      })();
      return closePromise;
    },

    stats: () => ({ ...stats, queued: queue.length, inFlightBatches: inFlight.size }),
  };
}
