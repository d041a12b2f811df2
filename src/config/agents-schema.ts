import { z } from 'zod';
import { entityId, instantInput, pricesSchema } from '../admin/admin-inputs.js';
import { compileBudget, compilePermission, POLICY_ACTIONS } from '../policy/index.js';

/**
 * The `agents` section: how the admin service treats agents, and policy declared in config for
 * GitOps-style setups (`agents.declared`). Grants and budgets are compiled here already, so a bad
 * one stops start-up with its key named (`agents.declared.permissions.1.resource: …`); what
 * config cannot know (does the agent exist?) is checked when the declared policy is applied.
 */

const actions = z.array(z.enum(POLICY_ACTIONS as [string, ...string[]])).min(1).max(4).default(['call']);
const constraints = z.record(z.string(), z.unknown()).default({});

/** Checks a grant with the policy compiler, reporting its errors under the config path. */
function refineGrant(value: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const { agentId: _agentId, expiresAt, ...grant } = value;
  const withExpiry =
    expiresAt === undefined || expiresAt === null ? grant : { ...grant, constraints: { ...(grant.constraints as object), expiresAt } };
  const compiled = compilePermission({ id: 'config', ...withExpiry });
  if (compiled.ok) return;
  for (const e of compiled.errors) ctx.addIssue({ code: 'custom', path: e.path === '' ? [] : [e.path], message: e.message });
}

/** A grant every new agent receives (no id: each agent's copy gets `{agentId}.default.{n}`). */
const defaultPermission = z
  .strictObject({ resource: z.string(), actions, effect: z.enum(['allow', 'deny']).default('allow'), constraints })
  .superRefine(refineGrant);

const declaredAgent = z.strictObject({
  id: entityId,
  name: z.string().min(1).max(256),
  type: z.enum(['autonomous', 'delegated']).default('autonomous'),
  userId: z.string().min(1).max(256).nullable().default(null),
  tenant: z.string().min(1).max(256).nullable().default(null),
  /** The OAuth client (client_credentials) that acts as this agent. */
  clientId: z.string().min(1).max(256).optional(),
  expiresAt: instantInput.nullable().default(null),
});

const declaredPermission = z
  .strictObject({
    id: entityId,
    agentId: z.string().min(1),
    resource: z.string(),
    actions,
    effect: z.enum(['allow', 'deny']).default('allow'),
    constraints,
    expiresAt: instantInput.nullable().optional(),
  })
  .superRefine(refineGrant);

const declaredBudget = z
  .strictObject({
    id: entityId,
    scope: z.enum(['agent', 'user', 'tenant']),
    subject: z.string().min(1).max(256),
    metric: z.enum(['calls', 'tokens', 'cost']),
    limit: z.number().nonnegative(),
    period: z.enum(['hour', 'day', 'month', 'total']),
    prices: pricesSchema.optional(),
  })
  .superRefine(({ prices: _prices, ...budget }, ctx) => {
    const compiled = compileBudget(budget);
    if (!compiled.ok) for (const e of compiled.errors) ctx.addIssue({ code: 'custom', path: e.path === '' ? [] : [e.path], message: e.message });
  });

/** Refuses two entries with one id: the second would silently overwrite the first. */
function uniqueIds(list: readonly { id: string }[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  list.forEach((item, i) => {
    if (seen.has(item.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate id "${item.id}"` });
    seen.add(item.id);
  });
}

/**
 * Policy kept in config and applied at every start by `applyDeclaredPolicy`, idempotently: missing
 * entries are created, changed ones updated, and grants and budgets the config declared before but
 * no longer does are deleted. Declared agents dropped from config are left alone (deleting an
 * identity is never implicit). Ids are required: they are what makes re-applying idempotent.
 */
const declaredPolicy = z.strictObject({
  agents: z.array(declaredAgent).superRefine(uniqueIds).default([]),
  permissions: z.array(declaredPermission).superRefine(uniqueIds).default([]),
  budgets: z.array(declaredBudget).superRefine(uniqueIds).default([]),
});

export const agentsConfigSchema = z.strictObject({
  /** Live (not revoked) agents one user may have; unset = no cap. */
  maxPerUser: z.number().int().positive().optional(),
  /** Grants given to every new agent (admin-created, or adopted after OAuth consent). */
  defaultPermissions: z.array(defaultPermission).max(256).default([]),
  /**
   * Keep every call's full (redacted) arguments in the audit log. Off: only their SHA-256 digest
   * is kept (every call, allowed or denied, is audited either way). Per server: `auditArguments`.
   */
  auditAll: z.boolean().default(false),
  /** Seconds an agent created by the admin lives when no expiry is given; unset = no expiry. */
  tokenExpiry: z.number().int().positive().optional(),
  declared: declaredPolicy.prefault({}),
});

export type AgentsConfig = z.output<typeof agentsConfigSchema>;
export type DeclaredPolicy = z.output<typeof declaredPolicy>;
