import { periodKey } from './budget.js';
import { createReservationBook, mergeCharges, refundLines } from './reservation-book.js';
import type { BudgetCharge, BudgetMetric, CompiledBudget, Reservation, ReservationLine } from './types.js';

/**
 * Where budget is held and spent. The decision path reserves the most a call can cost before it
 * is forwarded, then settles the real amount or refunds it. The interface is synchronous so a
 * decision stays one synchronous step (check and spend cannot interleave with another call);
 * a store-backed ledger for several instances keeps that shape by handing out blocks leased
 * from the database, which can never add up to more than the cap.
 */
export interface BudgetLedger {
  /**
   * Holds every charge or none. A `requestKey` already held or settled returns its reservation
   * again (`replayed`), so a retried request is charged once.
   */
  reserve(requestKey: string, charges: readonly BudgetCharge[], now: number): ReserveResult;
  /** Whether `reserve` would succeed now, holding nothing (for `explain`). */
  peek(charges: readonly BudgetCharge[], now: number): { readonly ok: true } | BudgetShortfall;
  /** Gives a held reservation back (forward cancelled or failed); `false` if not held. */
  refund(reservation: Reservation): boolean;
  /**
   * Replaces the held amounts with `actual` ones per metric (a metric left out keeps its held
   * amount). Spending never passes a limit: what does not fit is reported as `unbilled`.
   */
  settle(reservation: Reservation, actual: Partial<Readonly<Record<BudgetMetric, number>>>): SettleResult;
  /** Spent (held + settled) in the budget's current period. */
  spent(budget: CompiledBudget, now: number): number;
  /**
   * Only a ledger spending blocks leased from a shared store has it: takes more for the budgets
   * that came up short since the last refill, and resolves `true` if anything was taken (a call
   * refused as `budget_exhausted` is then decided again) or `false` if the store had no room;
   * rejects when the store could not be reached (the call is refused as such, not as exhausted).
   * Deciding stays synchronous; only a call that found its local block short awaits this.
   */
  refill?(): Promise<boolean>;
}

/** A held (or replayed) reservation, or the first budget without room. */
export type ReserveResult = { readonly ok: true; readonly reservation: Reservation; readonly replayed: boolean } | BudgetShortfall;

/** The first budget without room for its charge. */
export interface BudgetShortfall {
  readonly ok: false;
  readonly budget: CompiledBudget;
  readonly spent: number;
  readonly requested: number;
}

/** What `settle` did. */
export interface SettleResult {
  readonly settled: boolean;
  /** Amount of `actual` beyond what the limits allowed to charge. */
  readonly unbilled: number;
}

/** Options of the in-memory ledger. */
export interface MemoryBudgetLedgerOptions {
  /** How many settled request keys to remember for retries (oldest forgotten first). */
  readonly rememberSettled?: number;
}

interface BudgetState {
  periodKey: number;
  spent: number;
  limit: number;
}

/** The in-memory reference ledger: exact, for one process. */
export function createMemoryBudgetLedger(options: MemoryBudgetLedgerOptions = {}): BudgetLedger {
  const book = createReservationBook(options.rememberSettled ?? 100_000);
  const states = new Map<string, BudgetState>();

  function stateOf(budget: CompiledBudget, now: number): BudgetState {
    const key = periodKey(budget.period, now);
    let s = states.get(budget.id);
    if (s === undefined) {
      s = { periodKey: key, spent: 0, limit: budget.limit };
      states.set(budget.id, s);
    } else if (s.periodKey !== key) {
      s.periodKey = key; // a new period starts empty
      s.spent = 0;
    }
    s.limit = budget.limit;
    return s;
  }

  function check(sums: readonly BudgetCharge[], now: number): BudgetShortfall | null {
    for (const { budget, amount } of sums) {
      const s = stateOf(budget, now);
      // A zero amount still needs room left: an exhausted token budget refuses the next call.
      if (s.spent >= budget.limit || s.spent + amount > budget.limit) {
        return { ok: false, budget, spent: s.spent, requested: amount };
      }
    }
    return null;
  }

  return {
    reserve(requestKey, charges, now) {
      const previous = book.find(requestKey);
      if (previous !== undefined) return { ok: true, reservation: previous, replayed: true };
      const sums = mergeCharges(charges);
      const denial = check(sums, now);
      if (denial !== null) return denial;
      const lines: ReservationLine[] = [];
      for (const { budget, amount } of sums) {
        const s = stateOf(budget, now);
        s.spent += amount;
        lines.push(Object.freeze({ budgetId: budget.id, metric: budget.metric, periodKey: s.periodKey, amount }));
      }
      const reservation: Reservation = Object.freeze({ requestKey, lines: Object.freeze(lines) });
      book.hold(reservation);
      return { ok: true, reservation, replayed: false };
    },
    peek(charges, now) {
      return check(mergeCharges(charges), now) ?? { ok: true };
    },
    refund(reservation) {
      if (!book.release(reservation)) return false;
      refundLines(states, reservation);
      return true;
    },
    settle(reservation, actual) {
      if (!book.release(reservation)) return { settled: false, unbilled: 0 };
      let unbilled = 0;
      for (const line of reservation.lines) {
        const amount = actual[line.metric] ?? line.amount;
        if (!Number.isFinite(amount) || amount < 0) {
          throw new RangeError(`settle: ${line.metric} must be a finite amount >= 0, got ${amount}`);
        }
        const s = states.get(line.budgetId);
        if (s === undefined || s.periodKey !== line.periodKey) continue;
        const delta = amount - line.amount;
        if (delta <= 0) {
          s.spent = Math.max(0, s.spent + delta);
        } else {
          const charged = Math.min(delta, Math.max(0, s.limit - s.spent));
          s.spent += charged;
          unbilled = Math.max(unbilled, delta - charged);
        }
      }
      book.remember(reservation);
      return { settled: true, unbilled };
    },
    spent(budget, now) {
      const s = states.get(budget.id);
      return s === undefined || s.periodKey !== periodKey(budget.period, now) ? 0 : s.spent;
    },
  };
}
