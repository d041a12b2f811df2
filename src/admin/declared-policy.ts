import type { DeclaredPolicy } from '../config/agents-schema.js';
import type { DeepReadonly } from '../config/schema.js';
import { AdminError, isAdminError } from './admin-error.js';
import { joinPath } from './admin-inputs.js';
import { compilePermissionRecord, stableJson } from './compile-records.js';
import type { PolicyAdmin } from './policy-admin.js';
import { compilePermission } from '../policy/index.js';

/** `created_by` of everything the config declares; reconciliation owns exactly these rows. */
export const CONFIG_ACTOR = 'config';

/** What applying the declared policy did, as `kind:id` strings. */
export interface DeclaredPolicyReport {
  readonly created: string[];
  readonly updated: string[];
  readonly unchanged: string[];
  readonly deleted: string[];
}

/**
 * Applies `agents.declared` through the admin service (so every rule and the change log apply as
 * for any other change). Idempotent: run at every start, it creates what is missing, updates what
 * differs, leaves what matches untouched (no change rows), and deletes grants and budgets that
 * the config declared earlier (`created_by = config`) but no longer does. Declared agents that
 * disappear from the config are left alone: deleting an identity is never implicit.
 *
 * A declared entry the service refuses (unknown agent, a grant already expired) stops here with
 * its config key named, like any other config error.
 */
export async function applyDeclaredPolicy(
  config: { readonly agents: { readonly declared: DeepReadonly<DeclaredPolicy> } },
  admin: PolicyAdmin,
): Promise<DeclaredPolicyReport> {
  const declared = config.agents.declared;
  const report: DeclaredPolicyReport = { created: [], updated: [], unchanged: [], deleted: [] };
  const options = { actor: CONFIG_ACTOR };

  for (const [i, a] of declared.agents.entries()) {
    await keyed(`agents.declared.agents[${i}]`, async () => {
      let existing = await findOrUndefined(admin.getAgent(a.id));
      if (existing === undefined) {
        try {
          await admin.createAgent({ ...a });
          report.created.push(`agent:${a.id}`);
          return;
        } catch (err) {
          // Instances starting together on one database: another one created it first. A real
          // conflict (its client acts as another agent) still finds no agent of this id.
          if (!isAdminError(err) || err.code !== 'CONFLICT') throw err;
          existing = await findOrUndefined(admin.getAgent(a.id));
          if (existing === undefined) throw err;
        }
      }
      if (existing.type !== a.type) throw new AdminError('CONFLICT', `agent ${a.id} is ${existing.type}; a declared agent cannot change type`);
      if (existing.name === a.name && existing.tenant === a.tenant && existing.expiresAt === a.expiresAt) {
        report.unchanged.push(`agent:${a.id}`);
        return;
      }
      await admin.updateAgent(a.id, { name: a.name, tenant: a.tenant, expiresAt: a.expiresAt });
      report.updated.push(`agent:${a.id}`);
    });
  }

  const permissionIds = new Set(declared.permissions.map((p) => p.id));
  for (const [i, p] of declared.permissions.entries()) {
    await keyed(`agents.declared.permissions[${i}]`, async () => {
      const existing = await findOrUndefined(admin.getPermission(p.id));
      const input = { ...structuredClone(p) } as Record<string, unknown>;
      if (existing !== undefined && existing.createdBy === CONFIG_ACTOR && existing.agentId === p.agentId && samePermission(existing, input)) {
        report.unchanged.push(`permission:${p.id}`);
        return;
      }
      await admin.grant(input, { ...options, replace: true });
      (existing === undefined ? report.created : report.updated).push(`permission:${p.id}`);
    });
  }
  for (const stale of await admin.listPermissions()) {
    if (stale.createdBy !== CONFIG_ACTOR || permissionIds.has(stale.id)) continue;
    await admin.revokePermission(stale.id);
    report.deleted.push(`permission:${stale.id}`);
  }

  const budgetIds = new Set(declared.budgets.map((b) => b.id));
  for (const [i, b] of declared.budgets.entries()) {
    await keyed(`agents.declared.budgets[${i}]`, async () => {
      const existing = await findOrUndefined(admin.getBudget(b.id));
      const want = { id: b.id, scope: b.scope, subject: b.subject, metric: b.metric, limit: b.limit, period: b.period, prices: b.prices ?? null };
      if (existing !== undefined && existing.createdBy === CONFIG_ACTOR) {
        const have = { id: existing.id, scope: existing.scope, subject: existing.subject, metric: existing.metric, limit: existing.limit, period: existing.period, prices: existing.prices };
        if (stableJson(have) === stableJson(want)) {
          report.unchanged.push(`budget:${b.id}`);
          return;
        }
      }
      await admin.setBudget(structuredClone(want), options);
      (existing === undefined ? report.created : report.updated).push(`budget:${b.id}`);
    });
  }
  for (const stale of await admin.listBudgets()) {
    if (stale.createdBy !== CONFIG_ACTOR || budgetIds.has(stale.id)) continue;
    await admin.deleteBudget(stale.id);
    report.deleted.push(`budget:${stale.id}`);
  }
  return report;
}

/** Whether a stored grant says what the declared input says (both normalized by the compiler). */
function samePermission(existing: Parameters<typeof compilePermissionRecord>[0], input: Record<string, unknown>): boolean {
  const { agentId: _agentId, expiresAt, ...grant } = input;
  const constraints = expiresAt == null ? grant.constraints : { ...(grant.constraints as object), expiresAt };
  const wanted = compilePermission({ ...grant, constraints });
  const stored = compilePermissionRecord(existing);
  return wanted.ok && stored.ok && stableJson(wanted.compiled.source) === stableJson(stored.compiled.source);
}

async function findOrUndefined<T>(promise: Promise<T>): Promise<T | undefined> {
  try {
    return await promise;
  } catch (err) {
    if (isAdminError(err) && err.code === 'NOT_FOUND') return undefined;
    throw err;
  }
}

/** Re-throws an admin refusal with the config key in front of each field path. */
async function keyed(prefix: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (!isAdminError(err)) throw err;
    const errors = err.errors.length > 0 ? err.errors.map((e) => ({ path: joinPath(prefix, e.path), message: e.message })) : [{ path: prefix, message: err.message }];
    throw new AdminError(err.code, 'declared policy refused', errors);
  }
}
