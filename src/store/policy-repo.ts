import { and, asc, eq, gt, sql, type SQL } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type { AgentRow, AgentStatus, AgentType } from './agents-repo.js';
import { decodeBudget, decodeDelegation, decodePermission, encodeBudget, encodeDelegation, encodePermission } from './policy-codec.js';
import type {
  BudgetRecord,
  BudgetUsageRecord,
  CommittedChange,
  DelegationRecord,
  PermissionRecord,
  PolicyChangeKind,
  PolicyChangeRecord,
  PolicyWrite,
  UsageDelta,
} from './policy-records.js';
import { agents } from './schema-agents.js';
import { budgets, budgetUsage, delegations, permissions, policyChanges } from './schema-policy.js';

/** Which agents to list; every field narrows. */
export interface AgentFilter {
  userId?: string;
  tenant?: string;
  status?: AgentStatus;
  type?: AgentType;
}

/**
 * Policy rows and their change log. Reads are plain; every write goes through `write`, which
 * saves the rows and appends one change per row in the same transaction, so a reader that has
 * seen change N has seen every row it names.
 */
export interface PolicyRepo {
  getAgent(id: string): Promise<AgentRow | undefined>;
  listAgents(filter?: AgentFilter): Promise<AgentRow[]>;
  /** Agents of a user that are not revoked (what `agents.maxPerUser` counts). */
  countLiveAgentsOfUser(userId: string): Promise<number>;
  getPermission(id: string): Promise<PermissionRecord | undefined>;
  listPermissions(filter?: { agentId?: string; createdBy?: string }): Promise<PermissionRecord[]>;
  getDelegation(id: string): Promise<DelegationRecord | undefined>;
  listDelegations(filter?: { parentAgentId?: string; childAgentId?: string }): Promise<DelegationRecord[]>;
  getBudget(id: string): Promise<BudgetRecord | undefined>;
  listBudgets(filter?: { scope?: BudgetRecord['scope']; subject?: string; createdBy?: string }): Promise<BudgetRecord[]>;
  getUsage(budgetId: string, periodStart: number): Promise<BudgetUsageRecord | undefined>;
  /** Adds the deltas in one transaction (usage never drops below 0; deleted budgets are skipped). */
  addUsage(deltas: readonly UsageDelta[]): Promise<void>;
  /** Saves every write and its change row in one transaction; returns them with their seqs. */
  write(writes: readonly PolicyWrite[], at: number): Promise<CommittedChange[]>;
  /** Changes with `seq > after`, oldest first, at most `limit`. */
  changesAfter(after: number, limit: number): Promise<PolicyChangeRecord[]>;
  /** The newest change's seq, 0 when the log is empty. */
  lastChangeSeq(): Promise<number>;
  /** Whether any change ever named this entity (an agent the admin has seen before). */
  hasChange(kind: PolicyChangeKind, entityId: string): Promise<boolean>;
}

/**
 * A write refused by a uniqueness rule of the schema (one live delegation per child), raced past
 * the admin service's own check by another writer. Nothing of the batch was saved.
 */
export class PolicyWriteConflict extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PolicyWriteConflict';
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = BetterSQLite3Database<any>;

const where = (conditions: (SQL | undefined)[]) => and(...conditions.filter((c): c is SQL => c !== undefined));

/** The SQLite implementation, on the gateway's drizzle database (better-sqlite3 is synchronous). */
export function createSqlitePolicyRepo(db: AnyDb): PolicyRepo {
  function writeOne(tx: AnyDb, w: PolicyWrite): void {
    switch (w.kind) {
      case 'agent': {
        if (w.row === null) tx.delete(agents).where(eq(agents.id, w.id)).run();
        else {
          const { id: _id, ...rest } = w.row;
          tx.insert(agents).values(w.row).onConflictDoUpdate({ target: agents.id, set: rest }).run();
        }
        return;
      }
      case 'permission': {
        if (w.row === null) tx.delete(permissions).where(eq(permissions.id, w.id)).run();
        else {
          const values = encodePermission(w.row);
          tx.insert(permissions).values(values).onConflictDoUpdate({ target: permissions.id, set: values }).run();
        }
        return;
      }
      case 'delegation': {
        if (w.row === null) tx.delete(delegations).where(eq(delegations.id, w.id)).run();
        else {
          const values = encodeDelegation(w.row);
          tx.insert(delegations).values(values).onConflictDoUpdate({ target: delegations.id, set: values }).run();
        }
        return;
      }
      case 'budget': {
        if (w.row === null) tx.delete(budgets).where(eq(budgets.id, w.id)).run();
        else {
          const values = encodeBudget(w.row);
          tx.insert(budgets).values(values).onConflictDoUpdate({ target: budgets.id, set: values }).run();
        }
        return;
      }
    }
  }

  return {
    async getAgent(id) {
      return db.select().from(agents).where(eq(agents.id, id)).get();
    },
    async listAgents(filter = {}) {
      return db
        .select()
        .from(agents)
        .where(
          where([
            filter.userId === undefined ? undefined : eq(agents.userId, filter.userId),
            filter.tenant === undefined ? undefined : eq(agents.tenant, filter.tenant),
            filter.status === undefined ? undefined : eq(agents.status, filter.status),
            filter.type === undefined ? undefined : eq(agents.type, filter.type),
          ]),
        )
        .orderBy(asc(agents.createdAt), asc(agents.id))
        .all();
    },
    async countLiveAgentsOfUser(userId) {
      return db.$count(agents, and(eq(agents.userId, userId), sql`${agents.status} <> 'revoked'`));
    },
    async getPermission(id) {
      const row = db.select().from(permissions).where(eq(permissions.id, id)).get();
      return row && decodePermission(row);
    },
    async listPermissions(filter = {}) {
      return db
        .select()
        .from(permissions)
        .where(
          where([
            filter.agentId === undefined ? undefined : eq(permissions.agentId, filter.agentId),
            filter.createdBy === undefined ? undefined : eq(permissions.createdBy, filter.createdBy),
          ]),
        )
        .orderBy(asc(permissions.createdAt), asc(permissions.id))
        .all()
        .map(decodePermission);
    },
    async getDelegation(id) {
      const row = db.select().from(delegations).where(eq(delegations.id, id)).get();
      return row && decodeDelegation(row);
    },
    async listDelegations(filter = {}) {
      return db
        .select()
        .from(delegations)
        .where(
          where([
            filter.parentAgentId === undefined ? undefined : eq(delegations.parentAgentId, filter.parentAgentId),
            filter.childAgentId === undefined ? undefined : eq(delegations.childAgentId, filter.childAgentId),
          ]),
        )
        .orderBy(asc(delegations.createdAt), asc(delegations.id))
        .all()
        .map(decodeDelegation);
    },
    async getBudget(id) {
      const row = db.select().from(budgets).where(eq(budgets.id, id)).get();
      return row && decodeBudget(row);
    },
    async listBudgets(filter = {}) {
      return db
        .select()
        .from(budgets)
        .where(
          where([
            filter.scope === undefined ? undefined : eq(budgets.scope, filter.scope),
            filter.subject === undefined ? undefined : eq(budgets.subject, filter.subject),
            filter.createdBy === undefined ? undefined : eq(budgets.createdBy, filter.createdBy),
          ]),
        )
        .orderBy(asc(budgets.createdAt), asc(budgets.id))
        .all()
        .map(decodeBudget);
    },
    async getUsage(budgetId, periodStart) {
      return db
        .select()
        .from(budgetUsage)
        .where(and(eq(budgetUsage.budgetId, budgetId), eq(budgetUsage.periodStart, periodStart)))
        .get();
    },
    async addUsage(deltas) {
      if (deltas.length === 0) return;
      db.transaction((tx) => {
        for (const d of deltas) {
          // A budget deleted meanwhile has nothing left to record (the foreign key would refuse it).
          if (tx.select({ id: budgets.id }).from(budgets).where(eq(budgets.id, d.budgetId)).get() === undefined) continue;
          tx.insert(budgetUsage)
            .values({ budgetId: d.budgetId, periodStart: d.periodStart, used: Math.max(0, d.delta) })
            .onConflictDoUpdate({
              target: [budgetUsage.budgetId, budgetUsage.periodStart],
              set: { used: sql`max(0, ${budgetUsage.used} + ${d.delta})` },
            })
            .run();
        }
      });
    },
    async write(writes, at) {
      try {
        return db.transaction((tx) =>
          writes.map((w): CommittedChange => {
            writeOne(tx, w);
            const { seq } = tx.insert(policyChanges).values({ kind: w.kind, entityId: w.id, at }).returning({ seq: policyChanges.seq }).get();
            return { ...w, seq, at };
          }),
        );
      } catch (err) {
        const code = (err as { code?: unknown; cause?: { code?: unknown } }).code ?? (err as { cause?: { code?: unknown } }).cause?.code;
        if (code === 'SQLITE_CONSTRAINT_UNIQUE') throw new PolicyWriteConflict(`conflicting write: ${(err as Error).message}`, { cause: err });
        throw err;
      }
    },
    async changesAfter(after, limit) {
      return db.select().from(policyChanges).where(gt(policyChanges.seq, after)).orderBy(asc(policyChanges.seq)).limit(limit).all();
    },
    async lastChangeSeq() {
      return db.select({ seq: sql<number>`coalesce(max(${policyChanges.seq}), 0)` }).from(policyChanges).get()?.seq ?? 0;
    },
    async hasChange(kind, entityId) {
      const row = db
        .select({ seq: policyChanges.seq })
        .from(policyChanges)
        .where(and(eq(policyChanges.kind, kind), eq(policyChanges.entityId, entityId)))
        .limit(1)
        .get();
      return row !== undefined;
    },
  };
}
