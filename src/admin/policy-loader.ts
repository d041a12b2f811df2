import {
  createPolicyEngine,
  loadPolicyIndex,
  policyAgentFromRow,
  type BudgetLedger,
  type LoadError,
  type PolicyEngine,
  type PolicyIndex,
  type RateLimiter,
} from '../policy/index.js';
import type { Store } from '../store/store.js';
import { budgetInputFromRecord, compileBudgetRecord, delegationInputFromRecord, permissionInputFromRecord } from './compile-records.js';
import { createPriceBook, type PriceBook } from './price-book.js';
import { createLeasedBudgetLedger, type LeasedBudgetLedger } from './leased-budget-ledger.js';
import { createStoreBudgetLedger, type UsageSeed } from './store-budget-ledger.js';
import { createStoreUsageSink, currentPeriodStart, type UsageSink } from './usage-sink.js';

/** Options of `loadPolicyEngine`. */
export interface LoadPolicyOptions {
  /** The clock, in epoch ms (the engine's only source of time). */
  readonly now: () => number;
  /**
   * Where budget usage is persisted. Default: a store sink that batches deltas every
   * `usageFlushMs`. The audit writer will pass its own (see `usage-sink.ts`).
   */
  readonly usageSink?: UsageSink;
  /** Flush interval of the default usage sink; default 200 ms. */
  readonly usageFlushMs?: number;
  /** Replaces the store-backed ledger (`null`: budgets not enforced). */
  readonly ledger?: BudgetLedger | null;
  readonly rates?: RateLimiter;
  readonly cacheSize?: number;
  /** Tuning of the leased ledger a shared store (Postgres) gets; see `createLeasedBudgetLedger`. */
  readonly leases?: { readonly leaseAhead?: number; readonly idleMs?: number };
  /** Told when the default usage sink cannot write (it retries with the next batch). */
  readonly onUsageError?: (err: unknown) => void;
}

/** A loaded engine, the change-log position it reflects, and what to close at shutdown. */
export interface LoadedPolicy {
  readonly engine: PolicyEngine;
  readonly index: PolicyIndex;
  /** The last `policy_changes.seq` the index includes; start `createPolicySync` from here. */
  readonly seq: number;
  /** Stored rows that no longer compile; they were left out (they grant nothing). Log them. */
  readonly errors: readonly LoadError[];
  /** Per-tool prices of tokens/cost budgets, for `PolicyRequest.estimate`; keep it current too. */
  readonly prices: PriceBook;
  /** Writes pending budget usage (no-op when a custom sink or ledger was given). */
  flushUsage(): Promise<void>;
  /** Flushes usage and stops its timer. Call after the server stops taking calls. */
  close(): Promise<void>;
}

/**
 * Builds the gateway's policy engine from the store: every agent, grant, delegation and budget,
 * plus each budget's spending in its current period, so a restart does not hand out a fresh
 * budget. The change-log position is read before the rows, so a change committed during the
 * load is applied again by the sync rather than missed.
 */
export async function loadPolicyEngine(store: Store, options: LoadPolicyOptions): Promise<LoadedPolicy> {
  if (typeof options.now !== 'function') throw new TypeError('loadPolicyEngine: now must be a function returning epoch ms');
  const repo = store.policy;
  const seq = await repo.lastChangeSeq();
  const [agents, permissions, delegations, budgets] = await Promise.all([
    repo.listAgents(),
    repo.listPermissions(),
    repo.listDelegations(),
    repo.listBudgets(),
  ]);
  const { index, errors } = loadPolicyIndex({
    agents: agents.map(policyAgentFromRow),
    permissions: permissions.map((p) => ({ agentId: p.agentId, ...permissionInputFromRecord(p) })),
    delegations: delegations.map(delegationInputFromRecord),
    budgets: budgets.map(budgetInputFromRecord),
  });

  let ledger: BudgetLedger | null;
  let storeSink: ReturnType<typeof createStoreUsageSink> | null = null;
  let leased: LeasedBudgetLedger | null = null;
  /** What each budget's current period had spent in the store at start. */
  const seed: UsageSeed[] = [];
  const now = options.now();
  if (options.ledger === undefined) {
    for (const record of budgets) {
      const compiled = compileBudgetRecord(record);
      if (!compiled.ok) continue;
      const usage = await repo.getUsage(record.id, currentPeriodStart(compiled.compiled.period, now));
      if (usage !== undefined && usage.used > 0) seed.push({ budget: compiled.compiled, used: usage.used });
    }
  }
  if (options.ledger !== undefined) ledger = options.ledger;
  else if (store.shared !== undefined) {
    // Several processes may spend the same budget: the store arbitrates blocks; the seed only informs views.
    leased = createLeasedBudgetLedger({ leases: store.shared.budgetLeases, ...options.leases, seed, now, onError: options.onUsageError });
    ledger = leased;
  } else {
    let sink = options.usageSink;
    if (sink === undefined) {
      storeSink = createStoreUsageSink(repo, { flushMs: options.usageFlushMs, onError: options.onUsageError });
      sink = storeSink;
    }
    ledger = createStoreBudgetLedger({ sink, seed, now });
  }

  const engine = createPolicyEngine({ index, now: options.now, ledger, rates: options.rates, cacheSize: options.cacheSize });
  return {
    engine,
    index,
    seq,
    errors,
    prices: createPriceBook(budgets),
    flushUsage: async () => storeSink?.flush(),
    close: async () => {
      await storeSink?.close();
      await leased?.close();
    },
  };
}
