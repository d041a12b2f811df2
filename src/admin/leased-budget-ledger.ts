import { createReservationBook, mergeCharges, periodKey, refundLines, type BudgetLedger, type BudgetShortfall, type CompiledBudget, type Reservation, type ReservationLine } from '../policy/index.js';
import { PortcullisError } from '../errors.js';
import type { BudgetLeaseRepo } from '../store/shared-state.js';
import type { UsageSeed } from './store-budget-ledger.js';
import { periodStartOfKey } from './usage-sink.js';

/** Options of `createLeasedBudgetLedger`. */
export interface LeasedBudgetLedgerOptions {
  readonly leases: BudgetLeaseRepo;
  /**
   * Taken beyond what the waiting calls need, as a fraction of the limit (0..1): fewer round trips
   * for a busy budget, more held by this process that others cannot spend. Default 0.01: a busy
   * budget goes to the store about once per 1% of its limit instead of once per call, and at
   * most 1% of a limit sits with one instance beyond what its waiting calls need (given back when
   * idle). 0 takes exactly what the waiting calls need: one round trip per refill, nothing extra.
   */
  readonly leaseAhead?: number;
  /** A block unused this long (one to two ticks) is given back to the store; default 500 ms. */
  readonly idleMs?: number;
  /** Settled request keys remembered for retries; default 100 000. */
  readonly rememberSettled?: number;
  /**
   * What each budget's current period had used in the store when this process started, so that
   * `spent` (explain, admin views) starts from the shared figure, not from 0. Spending itself is
   * never seeded: it only comes from blocks this process takes.
   */
  readonly seed?: readonly UsageSeed[];
  /** The clock, for seeding. */
  readonly now?: number;
  /** Told when a lease or a give-back failed (a failed take refuses; a failed give-back over-charges). */
  readonly onError?: (err: unknown) => void;
}

/** A ledger for several processes sharing one store; `close` gives back what it holds unspent. */
export interface LeasedBudgetLedger extends BudgetLedger {
  refill(): Promise<boolean>;
  close(): Promise<void>;
}

interface LeaseState {
  budget: CompiledBudget;
  periodKey: number;
  periodStart: number;
  /** Taken from the store this period, less what was given back. */
  leased: number;
  /** Held and settled here this period; never more than `leased`. */
  spent: number;
  /** The period's usage in the store as last seen (every process's blocks). */
  storeUsed: number;
  /** Asked for by calls refused since the last refill started, in all and the most by one. */
  pending: number;
  largest: number;
  short: boolean;
  /** Reserved from since the last idle tick. */
  touched: boolean;
}

/**
 * Budgets exact across gateway processes: the store arbitrates blocks (`budget_usage.used` counts
 * every block handed out, taken by a conditional update that never passes the limit), and each
 * process spends only its own blocks, in the synchronous decision like the in-memory ledger.
 * A call whose block is short is refused by `reserve`; the call gate then awaits `refill` (one
 * store round trip shared by every call waiting) and decides again, so a budget with room left
 * anywhere in the store is never refused for want of a local block.
 *
 * Bounds. Spending is charged when its block is taken: a crash over-charges by the unspent block,
 * never under-charges. A block refunded or settled below its estimate stays with this process
 * until it is idle for `idleMs`-`2·idleMs`, then goes back; until then another process can be
 * refused a call that would fit, by at most that unspent amount (plus `leaseAhead × limit`).
 * Settling above the estimate takes the excess from the store if it still fits (never past the
 * limit); `unbilled` reports what the local block could not cover, an upper bound.
 */
export function createLeasedBudgetLedger(options: LeasedBudgetLedgerOptions): LeasedBudgetLedger {
  const { leases } = options;
  const leaseAhead = options.leaseAhead ?? 0.01;
  const idleMs = options.idleMs ?? 500;
  if (!(leaseAhead >= 0 && leaseAhead <= 1)) throw new TypeError('createLeasedBudgetLedger: leaseAhead must be between 0 and 1');
  if (!Number.isInteger(idleMs) || idleMs < 10) throw new TypeError('createLeasedBudgetLedger: idleMs must be an integer >= 10');
  const onError = options.onError ?? (() => undefined);

  const states = new Map<string, LeaseState>();
  const book = createReservationBook(options.rememberSettled ?? 100_000);
  const background = new Set<Promise<unknown>>();
  let inFlight: Promise<boolean> | null = null;
  let queued: Promise<boolean> | null = null;
  let closed = false;

  const idle = setInterval(giveBackIdle, idleMs);
  idle.unref();
  for (const { budget, used } of options.seed ?? []) stateOf(budget, options.now ?? Date.now()).storeUsed = used;

  function track(p: Promise<unknown>): void {
    const tracked = p.catch(onError).finally(() => background.delete(tracked));
    background.add(tracked);
  }

  function giveBack(budgetId: string, periodStart: number, amount: number): void {
    if (amount > 0) track(leases.giveBack(budgetId, periodStart, amount));
  }

  function stateOf(budget: CompiledBudget, now: number): LeaseState {
    const key = periodKey(budget.period, now);
    let s = states.get(budget.id);
    if (s === undefined) {
      s = { budget, periodKey: key, periodStart: periodStartOfKey(budget.period, key), leased: 0, spent: 0, storeUsed: 0, pending: 0, largest: 0, short: false, touched: false };
      states.set(budget.id, s);
    } else if (s.periodKey !== key) {
      // A new period starts empty; the old one's unspent block is no one's to spend any more.
      giveBack(budget.id, s.periodStart, s.leased - s.spent);
      Object.assign(s, { periodKey: key, periodStart: periodStartOfKey(budget.period, key), leased: 0, spent: 0, storeUsed: 0, pending: 0, largest: 0, short: false });
    }
    s.budget = budget;
    return s;
  }

  const fits = (s: LeaseState, amount: number) => s.spent < s.leased && s.spent + amount <= s.leased;
  const shortfall = (s: LeaseState, amount: number): BudgetShortfall => ({
    ok: false,
    budget: s.budget,
    spent: Math.max(s.spent, s.storeUsed - (s.leased - s.spent)),
    requested: amount,
  });

  /** Takes, for every budget that came up short, what its waiting calls need beyond its block. */
  async function runRefill(): Promise<boolean> {
    const wants: { s: LeaseState; key: number; need: number; want: number }[] = [];
    for (const s of states.values()) {
      if (!s.short) continue;
      const available = Math.max(0, s.leased - s.spent);
      // Enough for the largest waiting call is the least worth taking; all of them is the most.
      const need = Math.max(0, s.largest - available);
      // A zero charge needs some room: ask for at least one unit (the store caps it at what is left).
      // Whole units ahead only: a fraction no call can spend would sit here while another
      // instance is refused (a 10-call budget leases nothing ahead).
      const want = Math.max(s.pending - available + Math.floor(leaseAhead * s.budget.limit), need > 0 ? need : 1);
      wants.push({ s, key: s.periodKey, need, want });
      s.pending = 0;
      s.largest = 0;
      s.short = false;
    }
    // Another refill already served every short budget: deciding again is worth it.
    if (wants.length === 0) return true;
    let failure: unknown;
    const granted = await Promise.all(
      wants.map(async ({ s, key, need, want }) => {
        const periodStart = s.periodStart;
        try {
          const grant = await leases.take(s.budget.id, periodStart, need, want);
          if (s.periodKey !== key || closed) {
            giveBack(s.budget.id, periodStart, grant.granted); // the period rolled over meanwhile
            return 0;
          }
          s.leased += grant.granted;
          s.storeUsed = grant.used;
          return grant.granted;
        } catch (err) {
          onError(err);
          failure ??= err;
          return 0;
        }
      }),
    );
    if (granted.some((g) => g > 0)) return true;
    // Nothing leased because the store failed, not because the budget is spent: the caller must
    // not report an exhausted budget.
    if (failure !== undefined) throw new PortcullisError('STORE_FAILURE', `budget store unavailable: ${(failure as Error).message}`, { cause: failure });
    return false;
  }

  function start(): Promise<boolean> {
    const p: Promise<boolean> = runRefill().finally(() => {
      if (inFlight === p) inFlight = null;
    });
    inFlight = p;
    return p;
  }

  /** Single flight: a caller joins the refill that starts after its shortfall was recorded. */
  function refill(): Promise<boolean> {
    if (closed) return Promise.resolve(false);
    if (queued !== null) return queued;
    if (inFlight === null) return start();
    const next = () => {
      // Once it starts it has read the shortfalls: later ones wait for the one after it.
      if (queued === q) queued = null;
      return start();
    };
    const q: Promise<boolean> = inFlight.then(next, next);
    queued = q;
    return q;
  }

  function giveBackIdle(): void {
    for (const s of states.values()) {
      const unspent = s.leased - s.spent;
      if (!s.touched && !s.short && unspent > 0 && inFlight === null) {
        s.leased -= unspent;
        s.storeUsed -= unspent;
        giveBack(s.budget.id, s.periodStart, unspent);
      }
      s.touched = false;
    }
  }

  return {
    // hot path: Map lookups and arithmetic; a short block is refused here and refilled by the caller.
    reserve(requestKey, charges, now) {
      const previous = book.find(requestKey);
      if (previous !== undefined) return { ok: true, reservation: previous, replayed: true };
      const sums = mergeCharges(charges);
      let denial: BudgetShortfall | null = null;
      for (const { budget, amount } of sums) {
        const s = stateOf(budget, now);
        s.touched = true;
        if (fits(s, amount)) continue;
        s.pending += amount;
        s.largest = Math.max(s.largest, amount);
        s.short = true;
        denial ??= shortfall(s, amount);
      }
      if (denial !== null) return denial;
      const lines: ReservationLine[] = [];
      for (const { budget, amount } of sums) {
        const s = states.get(budget.id)!;
        s.spent += amount;
        lines.push(Object.freeze({ budgetId: budget.id, metric: budget.metric, periodKey: s.periodKey, amount }));
      }
      const reservation: Reservation = Object.freeze({ requestKey, lines: Object.freeze(lines) });
      book.hold(reservation);
      return { ok: true, reservation, replayed: false };
    },
    peek(charges, now) {
      for (const { budget, amount } of mergeCharges(charges)) {
        // Against the whole deployment's spending as last seen, not this process's block.
        const s = stateOf(budget, now);
        const spent = shortfall(s, amount).spent;
        if (spent >= budget.limit || spent + amount > budget.limit) return shortfall(s, amount);
      }
      return { ok: true };
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
        if (!Number.isFinite(amount) || amount < 0) throw new RangeError(`settle: ${line.metric} must be a finite amount >= 0, got ${amount}`);
        const s = states.get(line.budgetId);
        if (s === undefined || s.periodKey !== line.periodKey) continue;
        const delta = amount - line.amount;
        if (delta <= 0) {
          s.spent = Math.max(0, s.spent + delta);
          continue;
        }
        const covered = Math.min(delta, Math.max(0, s.leased - s.spent));
        s.spent += covered;
        const excess = delta - covered;
        if (excess <= 0) continue;
        unbilled = Math.max(unbilled, excess);
        // Charge what still fits under the limit in the store, as spent (never past the limit).
        const key = s.periodKey;
        track(
          leases.take(s.budget.id, s.periodStart, 0, excess).then((grant) => {
            if (s.periodKey !== key) return;
            s.leased += grant.granted;
            s.spent += grant.granted;
            s.storeUsed = grant.used;
          }),
        );
      }
      book.remember(reservation);
      return { settled: true, unbilled };
    },
    spent(budget, now) {
      const s = states.get(budget.id);
      if (s === undefined || s.periodKey !== periodKey(budget.period, now)) return 0;
      return Math.max(s.spent, s.storeUsed - (s.leased - s.spent));
    },
    refill,
    async close() {
      closed = true;
      clearInterval(idle);
      await inFlight?.catch(() => undefined);
      await queued?.catch(() => undefined);
      for (const s of states.values()) {
        const unspent = s.leased - s.spent;
        s.leased = s.spent;
        giveBack(s.budget.id, s.periodStart, unspent);
      }
      while (background.size > 0) await Promise.all([...background]);
    },
  };
}
