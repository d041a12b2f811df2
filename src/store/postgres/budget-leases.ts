import { sql } from 'drizzle-orm';
import type { BudgetLeaseRepo } from '../shared-state.js';
import type { PgDb } from './connect.js';

/**
 * Budget leases on Postgres. `take` locks the period's usage row (creating it on first use with a
 * no-op upsert, which also takes the row lock), reads the budget's limit as committed now, and
 * adds only what fits: two processes taking at once queue on the row lock, so their grants can
 * never add up past the limit.
 */
export function createPgBudgetLeaseRepo(db: PgDb): BudgetLeaseRepo {
  return {
    async take(budgetId, periodStart, need, want) {
      return db.transaction(async (tx) => {
        const { rows } = await tx.execute<{ used: number; limit: number }>(sql`
          insert into budget_usage (budget_id, period_start, used)
          select id, ${periodStart}, 0 from budgets where id = ${budgetId}
          on conflict (budget_id, period_start) do update set used = budget_usage.used
          returning used, (select limit_value from budgets where id = ${budgetId}) as "limit"`);
        const row = rows[0];
        // The budget was deleted: nothing to lease from.
        if (row === undefined || row.limit === null) return { granted: 0, used: 0 };
        const used = Number(row.used);
        const limit = Number(row.limit);
        // A zero need still needs room left: an exhausted token budget refuses the next call.
        if (used >= limit || used + need > limit) return { granted: 0, used };
        const granted = Math.min(Math.max(want, need), limit - used);
        await tx.execute(sql`
          update budget_usage set used = used + ${granted}
          where budget_id = ${budgetId} and period_start = ${periodStart}`);
        return { granted, used: used + granted };
      });
    },
    async giveBack(budgetId, periodStart, amount) {
      if (!(amount > 0)) return;
      await db.execute(sql`
        update budget_usage set used = greatest(0, used - ${amount})
        where budget_id = ${budgetId} and period_start = ${periodStart}`);
    },
  };
}
