/**
 * What a store shared by several gateway processes adds to `Store` (Postgres has it, the
 * single-process SQLite store does not): budget spent through leases the database arbitrates, and
 * a push of committed policy changes so every process's decision cache hears of a revoke at once.
 */
export interface SharedPolicyState {
  readonly budgetLeases: BudgetLeaseRepo;
  /** Starts listening for committed policy changes on a connection of its own (reconnecting). */
  watchPolicyChanges(handlers: PolicyChangeHandlers): PolicyChangeWatch;
}

/** What a lease request got. */
export interface LeaseGrant {
  /** Added to the period's usage for this process to spend; 0 when `need` did not fit. */
  readonly granted: number;
  /** The period's usage after the request (every process's leases and spending). */
  readonly used: number;
}

/**
 * Budget usage as shared blocks. `budget_usage.used` counts everything leased, so the sum of all
 * processes' leases never passes the limit: a process spends only what it holds.
 */
export interface BudgetLeaseRepo {
  /**
   * Atomically takes between `need` and `want` from a budget's period (the row is created on first
   * use): nothing unless `need` fits under the budget's current limit and some room is left.
   */
  take(budgetId: string, periodStart: number, need: number, want: number): Promise<LeaseGrant>;
  /** Gives back an unspent amount (usage never drops below 0). */
  giveBack(budgetId: string, periodStart: number, amount: number): Promise<void>;
}

/** Told about the listener. */
export interface PolicyChangeHandlers {
  /** A change up to `seq` committed (in any process). */
  onChange(seq: number): void;
  /** The listener went up (`true`: changes are pushed) or down (`false`: poll meanwhile). */
  onListening(listening: boolean): void;
  /** A connection attempt or the connection failed (it is retried with backoff). */
  onError?(err: unknown): void;
}

/** A running listener. */
export interface PolicyChangeWatch {
  readonly listening: boolean;
  close(): Promise<void>;
}
