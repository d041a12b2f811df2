import { and, asc, eq, gt, sql, type SQL } from 'drizzle-orm';
import type { AgentFilter, PolicyRepo } from '../policy-repo.js';
import { PolicyWriteConflict } from '../policy-repo.js';
import { decodeBudget, decodeDelegation, decodePermission, encodeBudget, encodeDelegation, encodePermission } from '../policy-codec.js';
import type { CommittedChange, PolicyWrite } from '../policy-records.js';
import { LOCK, type PgDb } from './connect.js';
import { agents, budgets, budgetUsage, delegations, permissions, policyChanges } from './schema.js';

/** The channel every instance LISTENs on; the payload is the seq of the newest change committed. */
export const POLICY_CHANNEL = 'portcullis_policy';

type Tx = Parameters<Parameters<PgDb['transaction']>[0]>[0];

const where = (conditions: (SQL | undefined)[]) => and(...conditions.filter((c): c is SQL => c !== undefined));

/** The Postgres error behind a (possibly drizzle-wrapped) failure, if any. */
function pgErrorOf(err: unknown): (Error & { code?: string; constraint?: string }) | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string') return e as Error & { code?: string; constraint?: string };
  }
  return undefined;
}

/**
 * The policy repository on Postgres, with the SQLite one's semantics (`../policy-repo.ts`).
 * Unlike SQLite, several processes write at once here, so `write` takes a transaction-scoped
 * advisory lock: a bigserial hands out seqs in insert order, and without the lock a change with a
 * lower seq could commit after a higher one that a poller had already passed.
 */
export function createPgPolicyRepo(db: PgDb): PolicyRepo {
  async function writeOne(tx: Tx, w: PolicyWrite): Promise<void> {
    switch (w.kind) {
      case 'agent': {
        if (w.row === null) await tx.delete(agents).where(eq(agents.id, w.id));
        else {
          const { id: _id, ...rest } = w.row;
          await tx.insert(agents).values(w.row).onConflictDoUpdate({ target: agents.id, set: rest });
        }
        return;
      }
      case 'permission': {
        if (w.row === null) await tx.delete(permissions).where(eq(permissions.id, w.id));
        else {
          const values = encodePermission(w.row);
          await tx.insert(permissions).values(values).onConflictDoUpdate({ target: permissions.id, set: values });
        }
        return;
      }
      case 'delegation': {
        if (w.row === null) await tx.delete(delegations).where(eq(delegations.id, w.id));
        else {
          const values = encodeDelegation(w.row);
          await tx.insert(delegations).values(values).onConflictDoUpdate({ target: delegations.id, set: values });
        }
        return;
      }
      case 'budget': {
        if (w.row === null) await tx.delete(budgets).where(eq(budgets.id, w.id));
        else {
          const values = encodeBudget(w.row);
          await tx.insert(budgets).values(values).onConflictDoUpdate({ target: budgets.id, set: values });
        }
        return;
      }
    }
  }

  return {
    async getAgent(id) {
      const [row] = await db.select().from(agents).where(eq(agents.id, id)).limit(1);
      return row;
    },
    async listAgents(filter: AgentFilter = {}) {
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
        .orderBy(asc(agents.createdAt), asc(agents.id));
    },
    async countLiveAgentsOfUser(userId) {
      return db.$count(agents, and(eq(agents.userId, userId), sql`${agents.status} <> 'revoked'`));
    },
    async getPermission(id) {
      const [row] = await db.select().from(permissions).where(eq(permissions.id, id)).limit(1);
      return row && decodePermission(row);
    },
    async listPermissions(filter = {}) {
      const rows = await db
        .select()
        .from(permissions)
        .where(
          where([
            filter.agentId === undefined ? undefined : eq(permissions.agentId, filter.agentId),
            filter.createdBy === undefined ? undefined : eq(permissions.createdBy, filter.createdBy),
          ]),
        )
        .orderBy(asc(permissions.createdAt), asc(permissions.id));
      return rows.map(decodePermission);
    },
    async getDelegation(id) {
      const [row] = await db.select().from(delegations).where(eq(delegations.id, id)).limit(1);
      return row && decodeDelegation(row);
    },
    async listDelegations(filter = {}) {
      const rows = await db
        .select()
        .from(delegations)
        .where(
          where([
            filter.parentAgentId === undefined ? undefined : eq(delegations.parentAgentId, filter.parentAgentId),
            filter.childAgentId === undefined ? undefined : eq(delegations.childAgentId, filter.childAgentId),
          ]),
        )
        .orderBy(asc(delegations.createdAt), asc(delegations.id));
      return rows.map(decodeDelegation);
    },
    async getBudget(id) {
      const [row] = await db.select().from(budgets).where(eq(budgets.id, id)).limit(1);
      return row && decodeBudget(row);
    },
    async listBudgets(filter = {}) {
      const rows = await db
        .select()
        .from(budgets)
        .where(
          where([
            filter.scope === undefined ? undefined : eq(budgets.scope, filter.scope),
            filter.subject === undefined ? undefined : eq(budgets.subject, filter.subject),
            filter.createdBy === undefined ? undefined : eq(budgets.createdBy, filter.createdBy),
          ]),
        )
        .orderBy(asc(budgets.createdAt), asc(budgets.id));
      return rows.map(decodeBudget);
    },
    async getUsage(budgetId, periodStart) {
      const [row] = await db
        .select()
        .from(budgetUsage)
        .where(and(eq(budgetUsage.budgetId, budgetId), eq(budgetUsage.periodStart, periodStart)))
        .limit(1);
      return row;
    },
    async addUsage(deltas) {
      if (deltas.length === 0) return;
      await db.transaction(async (tx) => {
        for (const d of deltas) {
          // Insert … select from budgets: a budget deleted meanwhile has nothing left to record,
          // and the check and the write are one statement, so a concurrent delete cannot slip between.
          await tx.execute(sql`
            insert into budget_usage (budget_id, period_start, used)
            select id, ${d.periodStart}, ${Math.max(0, d.delta)} from budgets where id = ${d.budgetId}
            on conflict (budget_id, period_start)
            do update set used = greatest(0, budget_usage.used + ${d.delta})`);
        }
      });
    },
    async write(writes, at) {
      try {
        return await db.transaction(async (tx) => {
          await tx.execute(sql`select pg_advisory_xact_lock(${LOCK.policyWrite})`);
          const committed: CommittedChange[] = [];
          for (const w of writes) {
            await writeOne(tx, w);
            const [row] = await tx.insert(policyChanges).values({ kind: w.kind, entityId: w.id, at }).returning({ seq: policyChanges.seq });
            committed.push({ ...w, seq: row!.seq, at });
          }
          // Delivered to every LISTENer when (and only if) this transaction commits.
          const last = committed.at(-1);
          if (last !== undefined) await tx.execute(sql`select pg_notify(${POLICY_CHANNEL}, ${String(last.seq)})`);
          return committed;
        });
      } catch (err) {
        const pgErr = pgErrorOf(err);
        // As on SQLite, any unique violation (in practice delegations_live_child_idx: one live
        // link per child) means another writer won the race; the upserts cannot raise one otherwise.
        if (pgErr?.code === '23505') {
          throw new PolicyWriteConflict(`conflicting write: ${pgErr.constraint ?? (err as Error).message}`, { cause: err });
        }
        throw err;
      }
    },
    async changesAfter(after, limit) {
      return db.select().from(policyChanges).where(gt(policyChanges.seq, after)).orderBy(asc(policyChanges.seq)).limit(limit);
    },
    async lastChangeSeq() {
      const [row] = await db.select({ seq: sql<string>`coalesce(max(${policyChanges.seq}), 0)` }).from(policyChanges);
      return Number(row?.seq ?? 0);
    },
    async hasChange(kind, entityId) {
      const [row] = await db
        .select({ seq: policyChanges.seq })
        .from(policyChanges)
        .where(and(eq(policyChanges.kind, kind), eq(policyChanges.entityId, entityId)))
        .limit(1);
      return row !== undefined;
    },
  };
}
