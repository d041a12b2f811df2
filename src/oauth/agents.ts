import { randomUUID } from 'node:crypto';
import type { AgentRow, AgentsRepo } from '../store/agents-repo.js';
import type { OAuthClient } from './client-directory.js';

export type AgentLookup = { ok: true; agent: AgentRow } | { ok: false; description: string };

/**
 * The agent a token acts as. One interactive agent per (user, client), created at first consent
 * and reused after; one autonomous agent per machine client. A suspended or revoked agent is
 * never silently replaced by a fresh one: that would undo the revocation.
 */
export async function ensureAgent(
  agents: AgentsRepo,
  input: { userId: string | null; userName?: string; tenant: string | null; client: Pick<OAuthClient, 'clientId' | 'name'>; now: number },
): Promise<AgentLookup> {
  const type = input.userId === null ? 'autonomous' : 'interactive';
  const existing = await agents.findFor(input.userId, input.client.clientId, type);
  if (existing) return usable(existing, input.now);
  const clientName = input.client.name ?? input.client.clientId;
  const row: AgentRow = {
    id: randomUUID(),
    userId: input.userId,
    clientId: input.client.clientId,
    tenant: input.tenant,
    name: input.userId === null ? clientName : `${clientName} for ${input.userName ?? input.userId}`,
    type,
    status: 'active',
    expiresAt: null,
    createdAt: input.now,
  };
  await agents.insert(row);
  // Two first consents can race; whichever row the store returns first is the agent from now on.
  const winner = await agents.findFor(input.userId, input.client.clientId, type);
  return usable(winner ?? row, input.now);
}

/** Whether an agent may still receive tokens. */
export function usable(agent: AgentRow, now: number): AgentLookup {
  if (agent.status !== 'active') return { ok: false, description: `agent is ${agent.status}` };
  if (agent.expiresAt !== null && agent.expiresAt <= now) return { ok: false, description: 'agent expired' };
  return { ok: true, agent };
}
