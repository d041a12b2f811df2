import type { LoadError, PolicyEngine } from '../policy/index.js';
import type { PolicyChangeKind, PolicyWrite } from '../store/policy-records.js';
import type { PolicyChangeWatch } from '../store/shared-state.js';
import type { Store } from '../store/store.js';
import { applyPolicyChange } from './apply-change.js';

/** Options of `createPolicySync`. */
export interface PolicySyncOptions {
  readonly store: Store;
  readonly engine: PolicyEngine;
  /** The change-log position the engine reflects (`LoadedPolicy.seq`). */
  readonly since: number;
  /**
   * Poll interval; default 500 ms. A change made by another process applies within one interval.
   * On a store that pushes changes (Postgres LISTEN) this is the fallback while the listener is down.
   */
  readonly pollMs?: number;
  /** Poll interval while pushed changes arrive (a safety net only); default 10 s. */
  readonly listeningPollMs?: number;
  /** Changes read per query. */
  readonly batchSize?: number;
  /** Told about a poll that failed (the next poll retries from the same position). */
  readonly onError?: (err: unknown) => void;
  /** Told about a reloaded row that no longer compiles (it was taken out of the index). */
  readonly onLoadError?: (error: LoadError) => void;
  /** Told when the change listener of a shared store failed (it reconnects; polling covers meanwhile). */
  readonly onListenError?: (err: unknown) => void;
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
  /** Whether changes are pushed to this process now (a shared store's listener is up). */
  readonly listening: boolean;
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
 * - On a shared store (Postgres) each commit also notifies every process, which drains at once;
 *   polling then relaxes to `listeningPollMs`, and tightens back to `pollMs` while the listener
 *   is down, so a revoke is never missed for longer than one short interval.
 */
export function createPolicySync(options: PolicySyncOptions): PolicySync {
  const pollMs = options.pollMs ?? 500;
  const listeningPollMs = options.listeningPollMs ?? 10_000;
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isInteger(pollMs) || pollMs < 10) throw new TypeError('createPolicySync: pollMs must be an integer >= 10');
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new TypeError('createPolicySync: batchSize must be a positive integer');
  if (!Number.isInteger(listeningPollMs) || listeningPollMs < pollMs) throw new TypeError('createPolicySync: listeningPollMs must be an integer >= pollMs');
  const repo = options.store.policy;
  const index = options.engine.index;
  let seq = options.since;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<number> | null = null;
  // A change notified while a drain runs may have committed after the drain read the log.
  let again = false;
  let stopped = true;
  let watch: PolicyChangeWatch | null = null;

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

  /** Drains now, and once more after a drain in progress (it may have read the log too early). */
  function pollNow(): void {
    if (running !== null) {
      again = true;
      return;
    }
    pollOnce()
      .catch((err: unknown) => options.onError?.(err))
      .finally(() => {
        if (!again || stopped) return;
        again = false;
        pollNow();
      });
  }

  function schedule(): void {
    if (stopped) return;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(
      () => {
        timer = null;
        pollOnce()
          .catch((err: unknown) => options.onError?.(err))
          .finally(schedule);
      },
      watch?.listening ? listeningPollMs : pollMs,
    );
    timer.unref();
  }

  return {
    get seq() {
      return seq;
    },
    get listening() {
      return watch?.listening ?? false;
    },
    start() {
      if (!stopped) return;
      stopped = false;
      watch =
        options.store.shared?.watchPolicyChanges({
          onChange: (notified) => {
            if (notified > seq && !stopped) pollNow();
          },
          onListening: (up) => {
            if (stopped) return;
            // Up again: catch up on what committed while down. Either way the interval changes.
            if (up) pollNow();
            schedule();
          },
          onError: options.onListenError,
        }) ?? null;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await watch?.close();
      watch = null;
      await running?.catch(() => undefined);
    },
    pollOnce,
  };
}
