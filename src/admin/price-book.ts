import { parseResourcePattern, patternCovers, targetSegments } from '../policy/index.js';
import type { BudgetRecord } from '../store/policy-records.js';

/** What one call of a tool is expected to cost, per metric; absent = no price known. */
export interface CallEstimate {
  readonly tokens?: number;
  readonly cost?: number;
}

/**
 * Per-tool prices of `tokens` and `cost` budgets (`prices: { "mcp:github:*": 2 }`), turned into
 * the `estimate` a `PolicyRequest` carries: the engine reserves it before forwarding and the
 * gateway settles the real amount (the upstream's `_meta`, or the price itself) afterwards.
 * Where several budgets price the same tool, the highest price is reserved (settling gives the
 * difference back). Kept current like the index: `put`/`remove` on every budget change.
 */
export interface PriceBook {
  /** hot path: one Map lookup once warm. */
  estimateFor(server: string, tool: string): CallEstimate | undefined;
  put(budget: BudgetRecord): void;
  remove(budgetId: string): void;
}

interface PricedBudget {
  readonly metric: 'tokens' | 'cost';
  /** Most specific pattern first. */
  readonly prices: readonly { readonly segments: readonly string[]; readonly amount: number }[];
}

const MAX_CACHED_TARGETS = 10_000;

/** Builds a price book from budget records. */
export function createPriceBook(budgets: readonly BudgetRecord[] = []): PriceBook {
  const priced = new Map<string, PricedBudget>();
  const cache = new Map<string, CallEstimate | undefined>();

  function compute(server: string, tool: string): CallEstimate | undefined {
    const target = targetSegments(server, tool);
    let tokens: number | undefined;
    let cost: number | undefined;
    for (const b of priced.values()) {
      const hit = b.prices.find((p) => patternCovers(p.segments, target));
      if (hit === undefined) continue;
      if (b.metric === 'tokens') tokens = Math.max(tokens ?? 0, hit.amount);
      else cost = Math.max(cost ?? 0, hit.amount);
    }
    if (tokens === undefined && cost === undefined) return undefined;
    return Object.freeze({ ...(tokens === undefined ? {} : { tokens }), ...(cost === undefined ? {} : { cost }) });
  }

  const book: PriceBook = {
    estimateFor(server, tool) {
      const key = `${server}\u0000${tool}`;
      if (cache.has(key)) return cache.get(key);
      const estimate = compute(server, tool);
      if (cache.size >= MAX_CACHED_TARGETS) cache.clear();
      cache.set(key, estimate);
      return estimate;
    },
    put(budget) {
      priced.delete(budget.id);
      cache.clear();
      if (budget.prices === null || budget.metric === 'calls') return;
      const prices: { segments: readonly string[]; amount: number; specificity: number }[] = [];
      for (const [pattern, amount] of Object.entries(budget.prices)) {
        const parsed = parseResourcePattern(pattern);
        if (parsed.ok && Number.isFinite(amount) && amount >= 0) prices.push({ segments: parsed.pattern.segments, amount, specificity: parsed.pattern.specificity });
      }
      prices.sort((a, b) => b.specificity - a.specificity);
      priced.set(budget.id, { metric: budget.metric, prices });
    },
    remove(budgetId) {
      priced.delete(budgetId);
      cache.clear();
    },
  };
  for (const b of budgets) book.put(b);
  return book;
}
