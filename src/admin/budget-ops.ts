import { compileBudget } from '../policy/index.js';
import type { BudgetRecord } from '../store/policy-records.js';
import type { AdminContext, ChangeOptions } from './admin-context.js';
import { AdminError, invalidInput, notFound } from './admin-error.js';
import { budgetSetSchema, parseInput } from './admin-inputs.js';
import { compileBudgetRecord } from './compile-records.js';
import { currentPeriodStart } from './usage-sink.js';

/** A budget with what it has spent in its current period. */
export type BudgetView = BudgetRecord & { readonly used: number; readonly periodStart: number };

/**
 * Sets a budget: creates it, or updates the one with the same id, or (without an id) the one with
 * the same scope, subject, metric and period, so `budget set` run twice changes one budget.
 * Spending so far is kept when the limit changes.
 */
export async function setBudget(ctx: AdminContext, input: unknown, options?: ChangeOptions): Promise<BudgetView> {
  const parsed = parseInput(budgetSetSchema, input);
  if (!parsed.ok) throw invalidInput('budget', parsed.errors);
  const b = parsed.value;
  let existing: BudgetRecord | undefined;
  if (b.id !== undefined) existing = await ctx.repo.getBudget(b.id);
  else if (typeof b.scope === 'string' && typeof b.subject === 'string') {
    existing = (await ctx.repo.listBudgets({ scope: b.scope as BudgetRecord['scope'], subject: b.subject })).find(
      (x) => x.metric === b.metric && x.period === b.period,
    );
  }
  const id = b.id ?? existing?.id ?? ctx.newId('bgt');
  const compiled = compileBudget({ id, scope: b.scope, subject: b.subject, metric: b.metric, limit: b.limit, period: b.period });
  if (!compiled.ok) throw invalidInput('budget', compiled.errors);
  const c = compiled.compiled;
  if (c.scope === 'agent' && (await ctx.repo.getAgent(c.subject)) === undefined) {
    throw new AdminError('NOT_FOUND', 'unknown agent', [{ path: 'subject', message: `agent ${c.subject} does not exist` }]);
  }
  if (b.prices != null && c.metric === 'calls') {
    throw invalidInput('budget', [{ path: 'prices', message: 'a calls budget counts calls; prices apply to tokens and cost budgets' }]);
  }
  const now = ctx.now();
  const row: BudgetRecord = {
    ...c,
    prices: b.prices ?? null,
    createdAt: existing?.createdAt ?? now,
    // The last writer owns it: a budget the config declares again belongs to the config.
    createdBy: ctx.actor(options),
  };
  await ctx.commit([{ kind: 'budget', id, row }]);
  return budgetView(ctx, row);
}

/** Adds the current period's spending: the live ledger's when this process has one, else the store's. */
export async function budgetView(ctx: AdminContext, row: BudgetRecord): Promise<BudgetView> {
  const now = ctx.now();
  const periodStart = currentPeriodStart(row.period, now);
  const ledger = ctx.engine?.ledger ?? null;
  const compiled = compileBudgetRecord(row);
  let used: number;
  // A ledger leasing from a shared store sees only its own blocks: the store's figure counts every
  // process's (blocks not yet spent included).
  if (ledger !== null && ledger.refill === undefined && compiled.ok) used = ledger.spent(compiled.compiled, now);
  else used = (await ctx.repo.getUsage(row.id, periodStart))?.used ?? 0;
  return { ...row, used, periodStart };
}

/** A budget with its spending, or 404. */
export async function getBudget(ctx: AdminContext, id: string): Promise<BudgetView> {
  const row = await ctx.repo.getBudget(id);
  if (row === undefined) throw notFound('budget', id);
  return budgetView(ctx, row);
}

/** Budgets with their spending, optionally of one scope and subject. */
export async function listBudgets(ctx: AdminContext, filter: { scope?: BudgetRecord['scope']; subject?: string } = {}): Promise<BudgetView[]> {
  const rows = await ctx.repo.listBudgets(filter);
  return Promise.all(rows.map((r) => budgetView(ctx, r)));
}

/** Deletes a budget (and its usage history). */
export async function deleteBudget(ctx: AdminContext, id: string): Promise<void> {
  if ((await ctx.repo.getBudget(id)) === undefined) throw notFound('budget', id);
  await ctx.commit([{ kind: 'budget', id, row: null }]);
}
