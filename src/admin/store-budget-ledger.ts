import {
  createMemoryBudgetLedger,
  type BudgetLedger,
  type BudgetPeriod,
  type CompiledBudget,
  type Reservation,
} from '../policy/index.js';
import { periodStartOfKey, type UsageSink } from './usage-sink.js';

/** What a budget had spent in its current period when the gateway started. */
export interface UsageSeed {
  readonly budget: CompiledBudget;
  readonly used: number;
}

/** Options of `createStoreBudgetLedger`. */
export interface StoreBudgetLedgerOptions {
  /** Receives every change of spending, in order, synchronously. */
  readonly sink: UsageSink;
  /** Spending persisted before this process started (current periods only). */
  readonly seed?: readonly UsageSeed[];
  /** The clock, for seeding. */
  readonly now: number;
}

/** A reservation key no gateway builds (they never start with NUL). */
const SEED_KEY = '\u0000seed:';

/**
 * A ledger that reserves in memory, exactly (the policy module's reference ledger: check and spend
 * in one synchronous step, so 64 concurrent calls against 10 left forward exactly 10), and
 * reports every change of spending to a sink that persists it, so spending survives a restart.
 *
 * Spending is persisted when it is held, not when it is settled: a crash between the two leaves
 * the budget charged for a call that may not have run, never the other way round. Scope: one
 * gateway process per store. Several instances sharing a budget need the store to arbitrate
 * (leased blocks or conditional updates on Postgres); this ledger does not pretend to.
 */
export function createStoreBudgetLedger(options: StoreBudgetLedgerOptions): BudgetLedger {
  const inner = createMemoryBudgetLedger();
  const { sink } = options;
  // Budgets seen in charges, by id: refund and settle only get reservation lines.
  const known = new Map<string, CompiledBudget>();

  for (const { budget, used } of options.seed ?? []) {
    known.set(budget.id, budget);
    const amount = Math.min(used, budget.limit);
    if (!(amount > 0)) continue;
    // The reference ledger has no setter: hold the persisted amount and settle it at once.
    const held = inner.reserve(`${SEED_KEY}${budget.id}`, [{ budget, amount }], options.now);
    if (held.ok) inner.settle(held.reservation, {});
  }

  /** Spent now in the period of `line`, 0 if that period has rolled over. */
  function spentIn(budgetId: string, key: number, period: BudgetPeriod): number {
    const budget = known.get(budgetId);
    return budget === undefined ? 0 : inner.spent(budget, periodStartOfKey(period, key));
  }

  /** Runs `change` and reports, per line, how much spending moved. */
  function tracked<T>(reservation: Reservation, change: () => T): T {
    const lines = reservation.lines.map((l) => {
      const period = known.get(l.budgetId)?.period ?? 'total';
      return { line: l, period, before: spentIn(l.budgetId, l.periodKey, period) };
    });
    const result = change();
    for (const { line, period, before } of lines) {
      const delta = spentIn(line.budgetId, line.periodKey, period) - before;
      if (delta !== 0) sink.record({ budgetId: line.budgetId, periodStart: periodStartOfKey(period, line.periodKey), delta });
    }
    return result;
  }

  return {
    // hot path: the reference ledger's Map operations plus one queued delta per budget line.
    reserve(requestKey, charges, now) {
      for (const c of charges) known.set(c.budget.id, c.budget);
      const result = inner.reserve(requestKey, charges, now);
      if (result.ok && !result.replayed) {
        for (const line of result.reservation.lines) {
          if (line.amount === 0) continue;
          const period = known.get(line.budgetId)!.period;
          sink.record({ budgetId: line.budgetId, periodStart: periodStartOfKey(period, line.periodKey), delta: line.amount });
        }
      }
      return result;
    },
    peek: (charges, now) => inner.peek(charges, now),
    refund: (reservation) => tracked(reservation, () => inner.refund(reservation)),
    settle: (reservation, actual) => tracked(reservation, () => inner.settle(reservation, actual)),
    spent: (budget, now) => inner.spent(budget, now),
  };
}
