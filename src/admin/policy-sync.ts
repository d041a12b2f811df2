import type { LoadError, PolicyEngine } from '../policy/index.js';
import type { PolicyChangeKind, PolicyWrite } from '../store/policy-records.js';
import type { Store } from '../store/store.js';
import { applyPolicyChange } from './apply-change.js';

/** Options of `createPolicySync`. */
export interface PolicySyncOptions {
  readonly store: Store;
  readonly engine: PolicyEngine;
  /** The change-log position the engine reflects (`LoadedPolicy.seq`). */
  readonly since: number;
  /** Poll interval; default 500 ms. A change made by another process applies within one interval. */
  readonly pollMs?: number;
  /** Changes read per query. */
  readonly batchSize?: number;
  /** Told about a poll that failed (the next poll retries from the same position). */
  readonly onError?: (err: unknown) => void;
  /** Told about a reloaded row that no longer compiles (it was taken out of the index). */
  readonly onLoadError?: (error: LoadError) => void;
  /** Told about every reloaded entity after the index took it (e.g. to update a price book). */
  readonly onApply?: (write: PolicyWrite) => void;
}

/** A running sync. */
export interface PolicySync {
  /** The last change applied. */
  readonly seq: number;
  /** Starts polling (idempotent). */
  start(): void;
  /** Stops polling and waits for a poll in progress. */
  stop(): Promise<void>;
  /** Applies every change after `seq` now; returns how many entities were reloaded. */
  pollOnce(): Promise<number>;
}

/**
 * Keeps a running gateway's policy index in step with the store. Two paths reach it:
 *
 * - The admin API in the same process: the admin service calls `onChange` after each commit and
 *   the gateway applies the change to the index synchronously (`applyPolicyChange`), so it takes
 *   effect on the very next call.
 * - The CLI or another process: it only writes the store. This sync polls `policy_changes` after
 *   the last seq it saw and reloads each entity named, so the change takes effect within one
 *   poll interval (default 500 ms). Changes the first path already applied are applied again,
 *   harmlessly: a reload always installs the row as it is now.
 */
export function createPolicySync(options: PolicySyncOptions): PolicySync {
  const pollMs = options.pollMs ?? 500;
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isInteger(pollMs) || pollMs < 10) throw new TypeError('createPolicySync: pollMs must be an integer >= 10');
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new TypeError('createPolicySync: batchSize must be a positive integer');
  const repo = options.store.policy;
  const index = options.engine.index;
  let seq = options.since;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<number> | null = null;
  let stopped = true;

  async function reload(kind: PolicyChangeKind, id: string): Promise<PolicyWrite> {
    switch (kind) {
      case 'agent':
        return { kind, id, row: (await repo.getAgent(id)) ?? null };
      case 'permission':
        return { kind, id, row: (await repo.getPermission(id)) ?? null };
      case 'delegation':
        return { kind, id, row: (await repo.getDelegation(id)) ?? null };
      case 'budget':
        return { kind, id, row: (await repo.getBudget(id)) ?? null };
    }
  }

  async function drain(): Promise<number> {
    let reloaded = 0;
    for (;;) {
      const changes = await repo.changesAfter(seq, batchSize);
      if (changes.length === 0) return reloaded;
      // Many changes to one entity need one reload: what matters is the row as it is now.
      const touched = new Map<string, { kind: PolicyChangeKind; id: string }>();
      for (const c of changes) touched.set(`${c.kind}\u0000${c.entityId}`, { kind: c.kind, id: c.entityId });
      const writes = await Promise.all([...touched.values()].map(({ kind, id }) => reload(kind, id)));
      for (const write of writes) {
        const error = applyPolicyChange(index, write);
        if (error !== null) options.onLoadError?.(error);
        options.onApply?.(write);
      }
      reloaded += writes.length;
      seq = changes[changes.length - 1].seq;
      if (changes.length < batchSize) return reloaded;
    }
  }

  function pollOnce(): Promise<number> {
    // One poll at a time: a slow store must not stack up overlapping reloads.
    running ??= drain().finally(() => {
      running = null;
    });
    return running;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      pollOnce()
        .catch((err: unknown) => options.onError?.(err))
        .finally(schedule);
    }, pollMs);
    timer.unref();
  }

  return {
    get seq() {
      return seq;
    },
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await running?.catch(() => undefined);
    },
    pollOnce,
  };
}
