import type { BudgetCharge, Reservation } from './types.js';

/**
 * What every budget ledger keeps besides its amounts: the reservations held now, and a bounded
 * memory of settled ones, by request key, so a retried request gets its reservation back instead
 * of a second charge.
 */
export interface ReservationBook {
  /** The held or remembered reservation of `requestKey`. */
  find(requestKey: string): Reservation | undefined;
  hold(reservation: Reservation): void;
  /** Stops holding it; `false` when it was not held (already refunded or settled). */
  release(reservation: Reservation): boolean;
  /** Remembers a settled reservation for retries; the oldest is forgotten past the bound. */
  remember(reservation: Reservation): void;
}

/** A book remembering at most `rememberSettled` settled request keys. */
export function createReservationBook(rememberSettled: number): ReservationBook {
  if (!Number.isInteger(rememberSettled) || rememberSettled < 0) {
    throw new TypeError('rememberSettled must be a non-negative integer');
  }
  const held = new Map<string, Reservation>();
  // A ring of keys forgets the oldest in O(1). (Evicting through `settled.keys().next()`
  // degrades: a Map keeps deleted slots until it rehashes.)
  const settled = new Map<string, Reservation>();
  const ring: (Reservation | undefined)[] = new Array(rememberSettled);
  let ringNext = 0;
  return {
    find: (requestKey) => held.get(requestKey) ?? settled.get(requestKey),
    hold: (reservation) => void held.set(reservation.requestKey, reservation),
    release(reservation) {
      if (held.get(reservation.requestKey) !== reservation) return false;
      held.delete(reservation.requestKey);
      return true;
    },
    remember(reservation) {
      if (rememberSettled === 0) return;
      const oldest = ring[ringNext];
      if (oldest !== undefined && settled.get(oldest.requestKey) === oldest) settled.delete(oldest.requestKey);
      ring[ringNext] = reservation;
      ringNext = (ringNext + 1) % rememberSettled;
      settled.set(reservation.requestKey, reservation);
    },
  };
}

/**
 * Validates amounts and merges charges naming the same budget (checking a budget twice against
 * the same room would let the pair overspend it). Usually they are distinct: no copy then.
 */
export function mergeCharges(charges: readonly BudgetCharge[]): readonly BudgetCharge[] {
  let duplicate = false;
  for (let i = 0; i < charges.length; i++) {
    const c = charges[i];
    if (!Number.isFinite(c.amount) || c.amount < 0) {
      throw new RangeError(`budget ${c.budget.id}: charge must be a finite amount >= 0, got ${c.amount}`);
    }
    for (let j = 0; j < i; j++) if (charges[j].budget.id === c.budget.id) duplicate = true;
  }
  if (!duplicate) return charges;
  const merged = new Map<string, BudgetCharge>();
  for (const c of charges) {
    const prev = merged.get(c.budget.id);
    merged.set(c.budget.id, prev === undefined ? c : { budget: c.budget, amount: prev.amount + c.amount });
  }
  return [...merged.values()];
}

/** Gives a refunded reservation's amounts back to the budgets it held them from. */
export function refundLines(states: ReadonlyMap<string, { periodKey: number; spent: number }>, reservation: Reservation): void {
  for (const line of reservation.lines) {
    const s = states.get(line.budgetId);
    // A reservation from a period that has rolled over has nothing left to give back.
    if (s !== undefined && s.periodKey === line.periodKey) s.spent = Math.max(0, s.spent - line.amount);
  }
}
