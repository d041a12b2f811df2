import type { PolicyEngine } from '../policy/index.js';
import type { AgentRow } from '../store/agents-repo.js';
import type { AgentFilter } from '../store/policy-repo.js';
import type { BudgetRecord, CommittedChange, DelegationRecord, PermissionRecord } from '../store/policy-records.js';
import type { Store } from '../store/store.js';
import { createAdminContext, type AgentSettings, type ChangeOptions } from './admin-context.js';
import * as agentOps from './agent-ops.js';
import * as budgetOps from './budget-ops.js';
import type { BudgetView } from './budget-ops.js';
import * as delegationOps from './delegation-ops.js';
import type { DelegationResult } from './delegation-ops.js';
import { explainCall, type ExplainResult } from './explain-ops.js';
import * as permissionOps from './permission-ops.js';
import type { GrantOptions } from './permission-ops.js';

/** Options of `createPolicyAdmin`. */
export interface PolicyAdminOptions {
  readonly store: Store;
  /** The clock, in epoch ms. */
  readonly now: () => number;
  /**
   * Called after each committed change, in commit order. A gateway passes
   * `(change) => applyPolicyChange(engine.index, change)` so an admin API change applies before
   * the API answers, i.e. on the very next call. Must not throw (if it does, the polling sync
   * still applies the change within one interval).
   */
  readonly onChange?: (change: CommittedChange) => void;
  /** Told when `onChange` threw. */
  readonly onChangeError?: (err: unknown, change: CommittedChange) => void;
  /** The live engine of this process: `explain` and budget views then read its live counters. */
  readonly engine?: PolicyEngine | null;
  /** `agents.maxPerUser`, `agents.defaultPermissions`, `agents.tokenExpiry`. */
  readonly agents?: AgentSettings;
  /** Default `created_by` of changes (`api`); each call can override it. */
  readonly actor?: string;
  /** Id generator (tests); default `prefix_` + 12 random characters. */
  readonly newId?: (prefix: string) => string;
}

/**
 * The one code path for every policy change, shared by the admin API, the CLI and declared config.
 * Every input is validated and compiled by `src/policy` before it is saved; every change is
 * written with its `policy_changes` row in one transaction and then reported to `onChange`.
 * Refusals are `AdminError`s (`INVALID_INPUT` with field paths, `NOT_FOUND`, `CONFLICT`).
 */
export interface PolicyAdmin {
  createAgent(input: unknown): Promise<AgentRow>;
  listAgents(filter?: AgentFilter): Promise<AgentRow[]>;
  getAgent(id: string): Promise<AgentRow>;
  updateAgent(id: string, input: unknown): Promise<AgentRow>;
  suspendAgent(id: string): Promise<AgentRow>;
  activateAgent(id: string): Promise<AgentRow>;
  revokeAgent(id: string): Promise<AgentRow>;
  deleteAgent(id: string): Promise<void>;
  /** For agents created by OAuth (consent, client_credentials): default grants, once. */
  adoptAgent(id: string): Promise<boolean>;
  /** Refuses (CONFLICT) when the user is at `agents.maxPerUser`; call before creating one. */
  checkAgentQuota(userId: string | null): Promise<void>;

  grant(input: unknown, options?: GrantOptions): Promise<PermissionRecord>;
  getPermission(id: string): Promise<PermissionRecord>;
  listPermissions(filter?: { agentId?: string }): Promise<PermissionRecord[]>;
  revokePermission(id: string): Promise<PermissionRecord>;

  delegate(input: unknown, options?: ChangeOptions): Promise<DelegationResult>;
  getDelegation(id: string): Promise<DelegationRecord>;
  listDelegations(filter?: { parentAgentId?: string; childAgentId?: string }): Promise<DelegationRecord[]>;
  revokeDelegation(id: string): Promise<DelegationRecord>;
  deleteDelegation(id: string): Promise<void>;

  setBudget(input: unknown, options?: ChangeOptions): Promise<BudgetView>;
  getBudget(id: string): Promise<BudgetView>;
  listBudgets(filter?: { scope?: BudgetRecord['scope']; subject?: string }): Promise<BudgetView[]>;
  deleteBudget(id: string): Promise<void>;

  explain(input: unknown): Promise<ExplainResult>;
}

/** Builds the admin service. */
export function createPolicyAdmin(options: PolicyAdminOptions): PolicyAdmin {
  if (options.store === undefined) throw new TypeError('createPolicyAdmin: store is required');
  if (typeof options.now !== 'function') throw new TypeError('createPolicyAdmin: now must be a function returning epoch ms');
  const max = options.agents?.maxPerUser;
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) throw new TypeError('createPolicyAdmin: agents.maxPerUser must be a positive integer');
  const ctx = createAdminContext({
    repo: options.store.policy,
    now: options.now,
    settings: options.agents,
    engine: options.engine,
    actor: options.actor,
    onChange: options.onChange,
    onChangeError: options.onChangeError,
    newId: options.newId,
  });
  return {
    createAgent: (input) => agentOps.createAgent(ctx, input),
    listAgents: (filter) => agentOps.listAgents(ctx, filter),
    getAgent: (id) => agentOps.requireAgent(ctx, id),
    updateAgent: (id, input) => agentOps.updateAgent(ctx, id, input),
    suspendAgent: (id) => agentOps.setAgentStatus(ctx, id, 'suspended'),
    activateAgent: (id) => agentOps.setAgentStatus(ctx, id, 'active'),
    revokeAgent: (id) => agentOps.setAgentStatus(ctx, id, 'revoked'),
    deleteAgent: (id) => agentOps.deleteAgent(ctx, id),
    adoptAgent: (id) => agentOps.adoptAgent(ctx, id),
    checkAgentQuota: (userId) => agentOps.checkAgentQuota(ctx, userId),

    grant: (input, o) => permissionOps.grant(ctx, input, o),
    getPermission: (id) => permissionOps.getPermission(ctx, id),
    listPermissions: (filter) => permissionOps.listPermissions(ctx, filter),
    revokePermission: (id) => permissionOps.revokePermission(ctx, id),

    delegate: (input, o) => delegationOps.delegate(ctx, input, o),
    getDelegation: (id) => delegationOps.getDelegation(ctx, id),
    listDelegations: (filter) => delegationOps.listDelegations(ctx, filter),
    revokeDelegation: (id) => delegationOps.revokeDelegation(ctx, id),
    deleteDelegation: (id) => delegationOps.deleteDelegation(ctx, id),

    setBudget: (input, o) => budgetOps.setBudget(ctx, input, o),
    getBudget: (id) => budgetOps.getBudget(ctx, id),
    listBudgets: (filter) => budgetOps.listBudgets(ctx, filter),
    deleteBudget: (id) => budgetOps.deleteBudget(ctx, id),

    explain: (input) => explainCall(ctx, input),
  };
}
