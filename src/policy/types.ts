/**
 * The vocabulary shared by the policy engine. Times are epoch milliseconds, as in the store.
 * Module-specific shapes (compiled grants, budgets, delegations) live next to the code that
 * builds them; this file holds what crosses module boundaries and what the gateway sees.
 */

/** What a caller does to a resource: `call` = tools/call, `read` = resources/read, `get` = prompts/get. */
export type PolicyAction = 'call' | 'read' | 'get' | 'list';

/** Every action, in bit order. */
export const POLICY_ACTIONS: readonly PolicyAction[] = Object.freeze(['call', 'read', 'get', 'list']);

/** Actions as bits, so a grant's action set is one integer test on the hot path. */
export const ACTION_BIT: Readonly<Record<PolicyAction, number>> = Object.freeze({
  call: 1,
  read: 2,
  get: 4,
  list: 8,
});

/** A grant allows, or (winning over any allow) denies. */
export type GrantEffect = 'allow' | 'deny';
/** How an agent came to be: a user's consent, a machine client, or token exchange. */
export type AgentType = 'interactive' | 'autonomous' | 'delegated';
/** Only `active` agents are ever allowed anything. */
export type AgentStatus = 'active' | 'suspended' | 'revoked';

/**
 * An agent as the policy engine needs it. The store's `userId` is `ownerUser` here; `null` for
 * machine agents without a consenting user.
 */
export interface PolicyAgent {
  readonly id: string;
  readonly ownerUser: string | null;
  readonly tenant: string | null;
  readonly name: string;
  readonly type: AgentType;
  readonly status: AgentStatus;
  /** After this instant the agent is treated as suspended; `null` = no expiry. */
  readonly expiresAt: number | null;
}

/** Why a call was refused: a closed union, so the gateway can map each to wire errors and metrics. */
export type DenialCode =
  | 'no_permission'
  | 'constraint_args'
  | 'outside_time_window'
  | 'ip_not_allowed'
  | 'rate_limited'
  | 'budget_exhausted'
  | 'delegation_expired'
  | 'agent_suspended'
  | 'agent_revoked'
  | 'grant_expired'
  | 'approval_required'
  | 'internal_error';

/** A refusal. `reason` is one sentence naming the tool, fit for the JSON-RPC error message. */
export interface Denial {
  readonly allow: false;
  readonly code: DenialCode;
  readonly reason: string;
  /** Only for `internal_error`: what went wrong, for the log; never sent to the client. */
  readonly cause?: unknown;
}

/** An approval. The gateway settles or refunds `reservation` once the forward ends. */
export interface Allow {
  readonly allow: true;
  /** The grant that allowed the call at each hop, root first (one id for an undelegated agent). */
  readonly grantIds: readonly string[];
  /** Agent ids from the chain's root to the caller (just the caller when not delegated). */
  readonly chain: readonly string[];
  /** Budget reservation held for this call; `null` when no budget applies or no ledger is wired. */
  readonly reservation: Reservation | null;
}

/** A decision is a value, never an exception (house style §6). */
export type Decision = Allow | Denial;

/** One call to decide on. */
export interface PolicyRequest {
  readonly agentId: string;
  readonly action: PolicyAction;
  /** Registered server name; it forms one segment of `mcp:{server}:{tool}`, so it has no `:`. */
  readonly server: string;
  /** Tool name (or resource URI for `read`, prompt name for `get`). */
  readonly tool: string;
  /** The call's arguments as parsed from the JSON-RPC body. */
  readonly args?: unknown;
  /** The client's address as the socket saw it (IPv4, IPv6 or IPv4-mapped IPv6). */
  readonly ip?: string;
  /** Idempotency key of the request (e.g. session + JSON-RPC id): a retry is charged once. */
  readonly requestKey?: string;
  /** Upper bounds to reserve for `tokens` and `cost` budgets; settle the real amounts later. */
  readonly estimate?: { readonly tokens?: number; readonly cost?: number };
}

/** Whose budget: one agent's, its owner's (all their agents), or the tenant's. */
export type BudgetScope = 'agent' | 'user' | 'tenant';
/** What a budget counts; `tokens` and `cost` are reserved from estimates and settled later. */
export type BudgetMetric = 'calls' | 'tokens' | 'cost';
/** Calendar period in UTC, or `total` for a budget that never rolls over. */
export type BudgetPeriod = 'hour' | 'day' | 'month' | 'total';

/** A budget row after validation. */
export interface CompiledBudget {
  readonly id: string;
  readonly scope: BudgetScope;
  /** The agent id, user id or tenant the budget belongs to, per `scope`. */
  readonly subject: string;
  readonly metric: BudgetMetric;
  readonly limit: number;
  readonly period: BudgetPeriod;
}

/** One budget to charge, with the amount to hold for it. */
export interface BudgetCharge {
  readonly budget: CompiledBudget;
  readonly amount: number;
}

/** One line of a reservation: which budget, in which period, how much is held. */
export interface ReservationLine {
  readonly budgetId: string;
  readonly metric: BudgetMetric;
  readonly periodKey: number;
  readonly amount: number;
}

/** Budget held for one request until it is settled or refunded. */
export interface Reservation {
  readonly requestKey: string;
  readonly lines: readonly ReservationLine[];
}
