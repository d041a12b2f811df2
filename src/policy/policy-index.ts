import type { BudgetDirectory } from './budget.js';
import { compileBudget } from './budget.js';
import { compilePermission, type CompiledPermission } from './compile-permission.js';
import { compileDelegation, type CompiledDelegation, type DelegationDirectory } from './delegation.js';
import { createGrantSet, type GrantSet, type MutableGrantSet } from './grant-set.js';
import type { PolicyInputError } from './permission-schema.js';
import type { AgentStatus, AgentType, BudgetScope, CompiledBudget, PolicyAgent } from './types.js';

/**
 * The gateway's in-memory view of agents, grants, delegations and budgets, built from store rows
 * at start-up and kept current by applying each saved change. Every change bumps `version`;
 * decision-cache keys include it, so an entry computed before a change is never read again.
 */
export interface PolicyIndex extends DelegationDirectory, BudgetDirectory {
  /** Increases on every change; part of every decision-cache key. */
  readonly version: number;
  putAgent(agent: PolicyAgent): void;
  removeAgent(id: string): void;
  /** Adds or replaces grant `grant.id`, owned by `agentId` (moving it if another agent had it). */
  putPermission(agentId: string, grant: CompiledPermission): void;
  removePermission(grantId: string): void;
  /** Adds or replaces a link; revoking is putting it again with `revokedAt` set. */
  putDelegation(delegation: CompiledDelegation): void;
  removeDelegation(id: string): void;
  putBudget(budget: CompiledBudget): void;
  removeBudget(id: string): void;
  counts(): { agents: number; permissions: number; delegations: number; budgets: number };
}

/** The store's agent row, as far as policy reads it (`userId` becomes `ownerUser`). */
export interface AgentRowLike {
  id: string;
  userId: string | null;
  tenant: string | null;
  name: string;
  type: AgentType;
  status: AgentStatus;
  expiresAt: number | null;
}

/** Maps a store agent row to the policy's agent. */
export function policyAgentFromRow(row: AgentRowLike): PolicyAgent {
  return Object.freeze({
    id: row.id,
    ownerUser: row.userId,
    tenant: row.tenant,
    name: row.name,
    type: row.type,
    status: row.status,
    expiresAt: row.expiresAt,
  });
}

/** Rows loaded from the store. Permissions carry their owner; delegations embed their grants. */
export interface PolicyRows {
  readonly agents: readonly PolicyAgent[];
  readonly permissions: readonly ({ readonly agentId: string } & Record<string, unknown>)[];
  readonly delegations: readonly unknown[];
  readonly budgets: readonly unknown[];
}

/** A stored row that did not compile; it is left out, so it grants nothing. */
export interface LoadError {
  readonly kind: 'permission' | 'delegation' | 'budget';
  readonly id: string;
  readonly errors: readonly PolicyInputError[];
}

const NO_GRANTS: GrantSet = createGrantSet();
const NO_LINKS: readonly CompiledDelegation[] = Object.freeze([]);
const NO_BUDGETS: readonly CompiledBudget[] = Object.freeze([]);

/** Creates an empty index. */
export function createPolicyIndex(): PolicyIndex {
  let version = 1;
  const agents = new Map<string, PolicyAgent>();
  const grantsByAgent = new Map<string, MutableGrantSet>();
  const grantOwner = new Map<string, string>();
  const delegations = new Map<string, CompiledDelegation>();
  const linksTo = new Map<string, CompiledDelegation[]>();
  const budgets = new Map<string, CompiledBudget>();
  const budgetsBySubject = new Map<string, CompiledBudget[]>();
  const subjectKey = (scope: BudgetScope, subject: string) => `${scope}\u0000${subject}`;

  const index: PolicyIndex = {
    get version() {
      return version;
    },
    // hot path: Map lookups only.
    agent: (id) => agents.get(id),
    grantsOf: (agentId) => grantsByAgent.get(agentId) ?? NO_GRANTS,
    delegationsTo: (agentId) => linksTo.get(agentId) ?? NO_LINKS,
    budgetsFor: (scope, subject) => budgetsBySubject.get(subjectKey(scope, subject)) ?? NO_BUDGETS,

    putAgent(agent) {
      agents.set(agent.id, Object.isFrozen(agent) ? agent : Object.freeze({ ...agent }));
      version++;
    },
    removeAgent(id) {
      agents.delete(id);
      version++;
    },
    putPermission(agentId, grant) {
      const owner = grantOwner.get(grant.id);
      if (owner !== undefined && owner !== agentId) grantsByAgent.get(owner)?.remove(grant.id);
      let set = grantsByAgent.get(agentId);
      if (set === undefined) {
        set = createGrantSet();
        grantsByAgent.set(agentId, set);
      }
      set.put(grant);
      grantOwner.set(grant.id, agentId);
      version++;
    },
    removePermission(grantId) {
      const owner = grantOwner.get(grantId);
      if (owner !== undefined) grantsByAgent.get(owner)?.remove(grantId);
      grantOwner.delete(grantId);
      version++;
    },
    putDelegation(delegation) {
      index.removeDelegation(delegation.id);
      delegations.set(delegation.id, delegation);
      const list = linksTo.get(delegation.childAgentId) ?? [];
      list.push(delegation);
      linksTo.set(delegation.childAgentId, list);
      version++;
    },
    removeDelegation(id) {
      const old = delegations.get(id);
      if (old !== undefined) {
        delegations.delete(id);
        const list = linksTo.get(old.childAgentId) ?? [];
        const rest = list.filter((l) => l.id !== id);
        if (rest.length === 0) linksTo.delete(old.childAgentId);
        else linksTo.set(old.childAgentId, rest);
      }
      version++;
    },
    putBudget(budget) {
      index.removeBudget(budget.id);
      budgets.set(budget.id, budget);
      const key = subjectKey(budget.scope, budget.subject);
      budgetsBySubject.set(key, [...(budgetsBySubject.get(key) ?? []), budget]);
      version++;
    },
    removeBudget(id) {
      const old = budgets.get(id);
      if (old !== undefined) {
        budgets.delete(id);
        const key = subjectKey(old.scope, old.subject);
        const rest = (budgetsBySubject.get(key) ?? []).filter((b) => b.id !== id);
        if (rest.length === 0) budgetsBySubject.delete(key);
        else budgetsBySubject.set(key, rest);
      }
      version++;
    },
    counts: () => ({ agents: agents.size, permissions: grantOwner.size, delegations: delegations.size, budgets: budgets.size }),
  };
  return index;
}

/**
 * Builds an index from store rows. Rows that do not compile are reported and left out: a grant
 * the engine cannot evaluate must grant nothing, and one bad row must not stop the gateway.
 */
export function loadPolicyIndex(rows: PolicyRows): { index: PolicyIndex; errors: LoadError[] } {
  const index = createPolicyIndex();
  const errors: LoadError[] = [];
  const idOf = (row: unknown) => String((row as { id?: unknown } | null)?.id ?? '?');
  for (const agent of rows.agents) index.putAgent(agent);
  for (const row of rows.permissions) {
    const { agentId, ...input } = row;
    const compiled = compilePermission(input);
    if (compiled.ok) index.putPermission(agentId, compiled.compiled);
    else errors.push({ kind: 'permission', id: idOf(row), errors: compiled.errors });
  }
  for (const row of rows.delegations) {
    const compiled = compileDelegation(row);
    if (compiled.ok) index.putDelegation(compiled.compiled);
    else errors.push({ kind: 'delegation', id: idOf(row), errors: compiled.errors });
  }
  for (const row of rows.budgets) {
    const compiled = compileBudget(row);
    if (compiled.ok) index.putBudget(compiled.compiled);
    else errors.push({ kind: 'budget', id: idOf(row), errors: compiled.errors });
  }
  return { index, errors };
}
