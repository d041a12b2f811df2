import { compilePermission, formatPath, type PolicyInputError } from '../policy/index.js';
import type { AgentRow, AgentStatus } from '../store/agents-repo.js';
import type { AgentFilter } from '../store/policy-repo.js';
import type { PolicyWrite } from '../store/policy-records.js';
import type { AdminContext } from './admin-context.js';
import { AdminError, invalidInput, notFound } from './admin-error.js';
import { agentCreateSchema, agentUpdateSchema, joinPath, parseInput } from './admin-inputs.js';
import { permissionRecordFrom } from './compile-records.js';

/** `created_by` of grants from `agents.defaultPermissions`. */
export const DEFAULTS_ACTOR = 'agents.defaultPermissions';

/** Loads an agent or fails with 404. */
export async function requireAgent(ctx: AdminContext, id: string): Promise<AgentRow> {
  const agent = await ctx.repo.getAgent(id);
  if (agent === undefined) throw notFound('agent', id);
  return agent;
}

/** Lists agents. */
export function listAgents(ctx: AdminContext, filter: AgentFilter = {}): Promise<AgentRow[]> {
  return ctx.repo.listAgents(filter);
}

/** Refuses (409) when `userId` already has `agents.maxPerUser` live agents. */
export async function checkAgentQuota(ctx: AdminContext, userId: string | null): Promise<void> {
  const max = ctx.settings.maxPerUser;
  if (userId === null || max === undefined) return;
  const count = await ctx.repo.countLiveAgentsOfUser(userId);
  if (count >= max) throw new AdminError('CONFLICT', `user ${userId} already has ${count} agents (agents.maxPerUser is ${max})`);
}

/**
 * The writes granting `agents.defaultPermissions` to a new agent. Delegated agents get none:
 * they act only on what their delegation hands down, never on grants of their own.
 */
export function defaultPermissionWrites(ctx: AdminContext, agent: AgentRow): PolicyWrite[] {
  if (agent.type === 'delegated') return [];
  const writes: PolicyWrite[] = [];
  const errors: PolicyInputError[] = [];
  (ctx.settings.defaultPermissions ?? []).forEach((input, i) => {
    const id = `${agent.id}.default.${i}`;
    const compiled = compilePermission({ actions: ['call'], ...input, id });
    if (!compiled.ok) {
      for (const e of compiled.errors) errors.push({ path: joinPath(formatPath(['agents', 'defaultPermissions', i]), e.path), message: e.message });
      return;
    }
    // Their own provenance: declared-config reconciliation owns `config` rows, not these.
    const row = permissionRecordFrom(compiled.compiled.source, { agentId: agent.id, createdAt: ctx.now(), createdBy: DEFAULTS_ACTOR });
    writes.push({ kind: 'permission', id, row });
  });
  if (errors.length > 0) throw invalidInput('default permission', errors);
  return writes;
}

/**
 * Creates an agent (type `autonomous` unless `delegated`), with the default permissions, in one
 * transaction. Its expiry defaults to `agents.tokenExpiry` from now.
 */
export async function createAgent(ctx: AdminContext, input: unknown): Promise<AgentRow> {
  const parsed = parseInput(agentCreateSchema, input);
  if (!parsed.ok) throw invalidInput('agent', parsed.errors);
  const a = parsed.value;
  const now = ctx.now();
  const id = a.id ?? ctx.newId('agt');
  if ((await ctx.repo.getAgent(id)) !== undefined) throw new AdminError('CONFLICT', `agent ${id} already exists`);
  const clientId = a.clientId ?? `admin:${id}`;
  if (a.type === 'autonomous' && a.userId === null && a.clientId !== undefined) {
    // client_credentials finds the machine agent by client: two would make it ambiguous.
    const other = (await ctx.repo.listAgents({ type: 'autonomous' })).find((x) => x.clientId === clientId && x.userId === null);
    if (other !== undefined) throw new AdminError('CONFLICT', `client ${clientId} already acts as agent ${other.id}`);
  }
  await checkAgentQuota(ctx, a.userId);
  const expiresAt = a.expiresAt !== undefined ? a.expiresAt : ctx.settings.tokenExpiry !== undefined ? now + ctx.settings.tokenExpiry * 1000 : null;
  if (expiresAt !== null && expiresAt <= now) throw invalidInput('agent', [{ path: 'expiresAt', message: 'the agent would already be expired' }]);
  const row: AgentRow = { id, userId: a.userId, clientId, tenant: a.tenant, name: a.name, type: a.type, status: 'active', expiresAt, createdAt: now };
  await ctx.commit([{ kind: 'agent', id, row }, ...defaultPermissionWrites(ctx, row)]);
  return row;
}

/** Renames an agent, moves it to another tenant or changes its expiry. */
export async function updateAgent(ctx: AdminContext, id: string, input: unknown): Promise<AgentRow> {
  const parsed = parseInput(agentUpdateSchema, input);
  if (!parsed.ok) throw invalidInput('agent', parsed.errors);
  const agent = await requireAgent(ctx, id);
  const u = parsed.value;
  const row: AgentRow = {
    ...agent,
    name: u.name ?? agent.name,
    tenant: u.tenant !== undefined ? u.tenant : agent.tenant,
    expiresAt: u.expiresAt !== undefined ? u.expiresAt : agent.expiresAt,
  };
  await ctx.commit([{ kind: 'agent', id, row }]);
  return row;
}

/**
 * Suspends, reactivates or revokes an agent. Revoked is final (a revoked identity must not come
 * back by accident); the index applies the status at once, so the agent's next call and every
 * call delegated through it are refused, whatever the decision cache holds.
 */
export async function setAgentStatus(ctx: AdminContext, id: string, status: AgentStatus): Promise<AgentRow> {
  const agent = await requireAgent(ctx, id);
  if (agent.status === 'revoked' && status !== 'revoked') throw new AdminError('CONFLICT', `agent ${id} is revoked; revocation is final`);
  if (agent.status === status) return agent;
  const row: AgentRow = { ...agent, status };
  await ctx.commit([{ kind: 'agent', id, row }]);
  return row;
}

/**
 * Deletes an agent with its grants, the delegations from and to it, and its own budgets. Each is
 * deleted explicitly (not left to foreign-key cascades) so the change log names every entity a
 * gateway must drop from its index.
 */
export async function deleteAgent(ctx: AdminContext, id: string): Promise<void> {
  await requireAgent(ctx, id);
  const [grants, down, up, budgets] = await Promise.all([
    ctx.repo.listPermissions({ agentId: id }),
    ctx.repo.listDelegations({ parentAgentId: id }),
    ctx.repo.listDelegations({ childAgentId: id }),
    ctx.repo.listBudgets({ scope: 'agent', subject: id }),
  ]);
  const writes: PolicyWrite[] = [
    ...grants.map((g): PolicyWrite => ({ kind: 'permission', id: g.id, row: null })),
    ...[...down, ...up].map((d): PolicyWrite => ({ kind: 'delegation', id: d.id, row: null })),
    ...budgets.map((b): PolicyWrite => ({ kind: 'budget', id: b.id, row: null })),
    { kind: 'agent', id, row: null },
  ];
  await ctx.commit(writes);
}

/**
 * Brings an agent created outside the admin service (OAuth consent, client_credentials) under
 * policy: grants `agents.defaultPermissions` and logs it, once. An agent is adopted when the
 * change log has never named it, so calling this on every token issuance is cheap and never
 * re-grants a default an admin has since revoked. Returns whether anything was done.
 */
export async function adoptAgent(ctx: AdminContext, id: string): Promise<boolean> {
  const agent = await requireAgent(ctx, id);
  if (await ctx.repo.hasChange('agent', id)) return false;
  await ctx.commit([{ kind: 'agent', id, row: agent }, ...defaultPermissionWrites(ctx, agent)]);
  return true;
}
