import { z } from 'zod';
import type { CompileResult } from './compile-permission.js';
import { zodErrors } from './permission-schema.js';
import type { BudgetCharge, BudgetPeriod, CompiledBudget, PolicyAgent, PolicyRequest } from './types.js';

/**
 * Budgets: a cap on calls, tokens or cost per agent, user or tenant and period. Periods are
 * calendar buckets in UTC computed from `now` (hour, day, month) or `total`, so they roll over by
 * themselves: nothing has to run at midnight, the next reservation just lands in a new bucket.
 */

export const budgetInputSchema = z.strictObject({
  id: z.string().min(1).max(128),
  scope: z.enum(['agent', 'user', 'tenant']),
  subject: z.string().min(1).max(256),
  metric: z.enum(['calls', 'tokens', 'cost']),
  limit: z.number().nonnegative().max(Number.MAX_SAFE_INTEGER),
  period: z.enum(['hour', 'day', 'month', 'total']),
});

/** A budget as the admin API and the store hand it over. */
export type BudgetInput = z.input<typeof budgetInputSchema>;

/** Validates a budget row when it is saved or loaded. */
export function compileBudget(input: unknown): CompileResult<CompiledBudget> {
  const parsed = budgetInputSchema.safeParse(input);
  if (!parsed.success) return { ok: false, errors: zodErrors(parsed.error) };
  return { ok: true, compiled: Object.freeze({ ...parsed.data }) };
}

/** The period bucket `now` falls in: hours/days since the epoch, months since year 0, or 0. */
export function periodKey(period: BudgetPeriod, now: number): number {
  switch (period) {
    case 'hour':
      return Math.floor(now / 3_600_000);
    case 'day':
      return Math.floor(now / 86_400_000);
    case 'month': {
      const d = new Date(now);
      return d.getUTCFullYear() * 12 + d.getUTCMonth();
    }
    case 'total':
      return 0;
  }
}

/** Looks budgets up by `scope:subject`; the policy index implements it. */
export interface BudgetDirectory {
  budgetsFor(scope: CompiledBudget['scope'], subject: string): readonly CompiledBudget[];
}

/**
 * Every budget a call by the last agent of `chain` spends from: each agent's own, its owner's
 * and its tenant's, for every agent up to the root, each once. Charging ancestors too is what
 * keeps delegated siblings together inside their parent's budget.
 */
export function budgetsForChain(directory: BudgetDirectory, chain: readonly PolicyAgent[]): CompiledBudget[] {
  const seen = new Set<string>();
  const out: CompiledBudget[] = [];
  const add = (list: readonly CompiledBudget[]) => {
    for (const b of list) {
      if (!seen.has(b.id)) {
        seen.add(b.id);
        out.push(b);
      }
    }
  };
  for (const agent of chain) {
    add(directory.budgetsFor('agent', agent.id));
    if (agent.ownerUser !== null) add(directory.budgetsFor('user', agent.ownerUser));
    if (agent.tenant !== null) add(directory.budgetsFor('tenant', agent.tenant));
  }
  return out;
}

/** The amounts one call holds: 1 call, and the caller's upper estimates for tokens and cost. */
export function chargesFor(budgets: readonly CompiledBudget[], request: PolicyRequest): BudgetCharge[] {
  const charges: BudgetCharge[] = [];
  for (const budget of budgets) {
    const amount = budget.metric === 'calls' ? 1 : budget.metric === 'tokens' ? request.estimate?.tokens ?? 0 : request.estimate?.cost ?? 0;
    charges.push({ budget, amount });
  }
  return charges;
}

/** The denial sentence for a budget without room: `calls budget of agent a is exhausted (5 of 5 used this day)`. */
export function describeShortfall(shortfall: { readonly budget: CompiledBudget; readonly spent: number }): string {
  const b = shortfall.budget;
  const per = b.period === 'total' ? 'in total' : `this ${b.period}`;
  return `${b.metric} budget of ${b.scope} ${b.subject} is exhausted (${shortfall.spent} of ${b.limit} used ${per})`;
}
