import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AgentRow, AgentsRepo, AgentType } from '../store/agents-repo.js';
import type { OAuthClient } from './client-directory.js';
import { createKeyedLock } from './keyed-lock.js';

/** The agent a token will act as, or why there is none (an RFC 6749 error code and a sentence). */
export type AgentLookup =
  | { ok: true; agent: AgentRow }
  | { ok: false; error: 'access_denied' | 'server_error'; description: string };

/** Called once for each agent OAuth creates (the gateway grants `agents.defaultPermissions`). */
export type AgentCreatedHook = (agent: AgentRow) => Promise<void>;

export interface AgentProvisionerOptions {
  agents: AgentsRepo;
  /** `agents.maxPerUser`: agents a user may have that are not revoked; undefined = no cap. */
  maxPerUser: number | undefined;
  /** `agents.tokenExpiry`: seconds a new agent lives; undefined = no expiry. */
  tokenExpiry: number | undefined;
  onAgentCreated: AgentCreatedHook | undefined;
  logger: Logger;
}

export interface EnsureAgentInput {
  /** The consenting user; null for a machine client (client_credentials). */
  userId: string | null;
  userName?: string;
  tenant: string | null;
  client: Pick<OAuthClient, 'clientId' | 'name'>;
  now: number;
}

/**
 * Finds or creates the agent a token acts as: one interactive agent per (user, client), created
 * at first consent, and one autonomous agent per machine client. Lifecycle rules:
 *
 * - A suspended or revoked agent is never silently replaced by a fresh one while it lives: that
 *   would undo the revocation. An *expired* interactive agent is replaced when the user consents
 *   again (consent is a new human decision); the expired one is revoked so it stops counting
 *   against the cap. An expired machine agent stays refused until an administrator extends or
 *   deletes it (a client secret alone is no new decision).
 * - `agents.maxPerUser` counts the user's agents that are not revoked (as the admin service
 *   does); a new agent beyond it is refused with `access_denied`.
 * - `agents.tokenExpiry` sets a new agent's `expiresAt`.
 * - `onAgentCreated` runs once, after the row is inserted (the hook's writes refer to it) and
 *   before any code or token names the agent. If it fails, the agent is rolled back by revoking
 *   it: the store offers no delete, and a revoked agent can never act, so nothing half-made
 *   survives. The pair then stays refused until an administrator deletes that agent.
 */
export interface AgentProvisioner {
  ensure(input: EnsureAgentInput): Promise<AgentLookup>;
}

export function createAgentProvisioner(options: AgentProvisionerOptions): AgentProvisioner {
  const { agents, maxPerUser, tokenExpiry, onAgentCreated, logger } = options;
  if (maxPerUser !== undefined && (!Number.isInteger(maxPerUser) || maxPerUser < 1)) throw new RangeError('agents.maxPerUser must be a positive integer');
  if (tokenExpiry !== undefined && (!Number.isInteger(tokenExpiry) || tokenExpiry < 1)) throw new RangeError('agents.tokenExpiry must be a positive integer');
  const lock = createKeyedLock();

  /**
   * The pair's agent that decides: for a user, the earliest created one that has not expired
   * (expired rows are history, whatever their status); for a machine client, its one agent.
   */
  async function current(input: EnsureAgentInput, type: AgentType): Promise<{ agent?: AgentRow; expired: AgentRow[] }> {
    if (input.userId === null) {
      const agent = await agents.findFor(null, input.client.clientId, type);
      return { agent, expired: [] };
    }
    const rows = (await agents.listByUser(input.userId)).filter((a) => a.clientId === input.client.clientId && a.type === type);
    const alive = rows.filter((a) => !expired(a, input.now)).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
    return { agent: alive[0], expired: rows.filter((a) => expired(a, input.now) && a.status !== 'revoked') };
  }

  async function create(input: EnsureAgentInput, type: AgentType): Promise<AgentLookup> {
    // Again under the lock: a concurrent consent may have created it meanwhile.
    const found = await current(input, type);
    if (found.agent) return usable(found.agent, input.now);
    for (const old of found.expired) await agents.setStatus(old.id, 'revoked');
    if (input.userId !== null && maxPerUser !== undefined) {
      const live = (await agents.listByUser(input.userId)).filter((a) => a.status !== 'revoked').length;
      if (live >= maxPerUser) {
        return {
          ok: false,
          error: 'access_denied',
          description: `user ${input.userId} already has ${live} agents, the most allowed (agents.maxPerUser is ${maxPerUser}); revoke one to approve another client`,
        };
      }
    }
    const clientName = input.client.name ?? input.client.clientId;
    const row: AgentRow = {
      id: randomUUID(),
      userId: input.userId,
      clientId: input.client.clientId,
      tenant: input.tenant,
      name: input.userId === null ? clientName : `${clientName} for ${input.userName ?? input.userId}`,
      type,
      status: 'active',
      expiresAt: tokenExpiry === undefined ? null : input.now + tokenExpiry * 1000,
      createdAt: input.now,
    };
    await agents.insert(row);
    // Another instance may have created the pair's agent at the same moment: both then pick the
    // same (earliest) row, and the loser retires its own unused row.
    const winner = (await current(input, type)).agent;
    if (winner && winner.id !== row.id) {
      await agents.setStatus(row.id, 'revoked');
      return usable(winner, input.now);
    }
    if (onAgentCreated) {
      try {
        await onAgentCreated(row);
      } catch (err) {
        logger.error({ err, agentId: row.id, clientId: row.clientId, userId: row.userId }, 'onAgentCreated failed; the new agent is revoked');
        await agents.setStatus(row.id, 'revoked').catch((e: unknown) => logger.error({ err: e, agentId: row.id }, 'could not revoke the half-made agent'));
        return {
          ok: false,
          error: 'server_error',
          description: `agent ${row.id} could not be set up and was revoked; an administrator can delete it to allow a new attempt`,
        };
      }
    }
    logger.info({ agentId: row.id, clientId: row.clientId, userId: row.userId, expiresAt: row.expiresAt }, 'agent created');
    return { ok: true, agent: row };
  }

  return {
    async ensure(input) {
      const type: AgentType = input.userId === null ? 'autonomous' : 'interactive';
      const found = await current(input, type);
      if (found.agent) return usable(found.agent, input.now);
      // Serialised per user (or per machine client): the cap check and the insert are one step.
      const key = input.userId === null ? `client\u0000${input.client.clientId}` : `user\u0000${input.userId}`;
      return lock.run(key, () => create(input, type));
    },
  };
}

function expired(agent: AgentRow, now: number): boolean {
  return agent.expiresAt !== null && agent.expiresAt <= now;
}

/** Whether an agent may still receive tokens. */
export function usable(agent: AgentRow, now: number): AgentLookup {
  if (agent.status !== 'active') return { ok: false, error: 'access_denied', description: `agent ${agent.id} is ${agent.status}` };
  if (expired(agent, now)) return { ok: false, error: 'access_denied', description: `agent ${agent.id} expired` };
  return { ok: true, agent };
}
