import { periodKey, type BudgetPeriod } from '../policy/index.js';
import type { UsageDelta } from '../store/policy-records.js';
import type { PolicyRepo } from '../store/policy-repo.js';

/**
 * Where budget spending goes to be persisted. The ledger calls `record` synchronously inside a
 * decision (it must not await), so a sink only queues.
 *
 * SEAM for the audit writer: DESIGN.md wants usage written in the same transaction as the audit
 * rows that spent it, so that after a crash usage equals what the audit shows. When that lands,
 * pass `loadPolicyEngine` a sink whose `record` attaches the delta to the audit record of the
 * call being decided (the attempt row carries the reservation, the outcome row the settlement)
 * and let the audit batch call `PolicyRepo.addUsage` in its transaction. Until then the store
 * sink below batches deltas on a short timer: at most `flushMs` of spending can be lost in a
 * crash, and it errs the safe way only if the crash falls between reserve and refund.
 */
export interface UsageSink {
  record(delta: UsageDelta): void;
}

/** The timer-batched sink: `flush` writes what is queued; `close` stops the timer and flushes. */
export interface StoreUsageSink extends UsageSink {
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Options of `createStoreUsageSink`. */
export interface StoreUsageSinkOptions {
  /** Longest a delta waits before it is written; default 200 ms. */
  readonly flushMs?: number;
  /** Told when a batch cannot be written (it is kept and retried with the next one). */
  readonly onError?: (err: unknown) => void;
}

/** A sink that coalesces deltas per budget and period and writes them in one transaction. */
export function createStoreUsageSink(repo: PolicyRepo, options: StoreUsageSinkOptions = {}): StoreUsageSink {
  const flushMs = options.flushMs ?? 200;
  if (!Number.isInteger(flushMs) || flushMs < 1) throw new TypeError('createStoreUsageSink: flushMs must be a positive integer');
  let pending = new Map<string, { budgetId: string; periodStart: number; delta: number }>();
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> = Promise.resolve();

  async function flush(): Promise<void> {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    const batch = pending;
    pending = new Map();
    const deltas = [...batch.values()].filter((d) => d.delta !== 0);
    // Writes are chained so two flushes never interleave their transactions out of order.
    writing = writing.then(async () => {
      if (deltas.length === 0) return;
      try {
        await repo.addUsage(deltas);
      } catch (err) {
        for (const d of deltas) add(d);
        options.onError?.(err);
      }
    });
    return writing;
  }

  function add(d: UsageDelta): void {
    const key = `${d.budgetId}\u0000${d.periodStart}`;
    const prev = pending.get(key);
    if (prev === undefined) pending.set(key, { budgetId: d.budgetId, periodStart: d.periodStart, delta: d.delta });
    else prev.delta += d.delta;
  }

  return {
    record(delta) {
      add(delta);
      if (timer === null) {
        timer = setTimeout(() => void flush(), flushMs);
        timer.unref();
      }
    },
    flush,
    async close() {
      await flush();
    },
  };
}

/** First instant (epoch ms, UTC) of the period bucket `key` (as `periodKey` computes it). */
export function periodStartOfKey(period: BudgetPeriod, key: number): number {
  switch (period) {
    case 'hour':
      return key * 3_600_000;
    case 'day':
      return key * 86_400_000;
    case 'month':
      return Date.UTC(Math.floor(key / 12), key % 12, 1);
    case 'total':
      return 0;
  }
}

/** First instant of the period `now` falls in. */
export function currentPeriodStart(period: BudgetPeriod, now: number): number {
  return periodStartOfKey(period, periodKey(period, now));
}
