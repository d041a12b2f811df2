/**
 * The agent provisioner against a store whose every call yields to the event loop (like a
 * networked database would): concurrent first consents must still respect `maxPerUser` and
 * produce one agent per pair, with the hook called once.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createAgentProvisioner } from '../../src/oauth/agents.js';
import type { AgentRow, AgentsRepo } from '../../src/store/agents-repo.js';

function slowRepo(): AgentsRepo & { rows: AgentRow[] } {
  const rows: AgentRow[] = [];
  const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));
  return {
    rows,
    async insert(row) {
      await tick();
      rows.push({ ...row });
    },
    async get(id) {
      await tick();
      return rows.find((r) => r.id === id);
    },
    async findFor(userId, clientId, type) {
      await tick();
      return rows.find((r) => r.userId === userId && r.clientId === clientId && r.type === type);
    },
    async listByUser(userId) {
      await tick();
      return rows.filter((r) => r.userId === userId);
    },
    async setStatus(id, status) {
      await tick();
      const row = rows.find((r) => r.id === id);
      if (row) row.status = status;
    },
  };
}

const logger = pino({ level: 'silent' });
const NOW = 1_700_000_000_000;

describe('createAgentProvisioner', () => {
  it('lets concurrent consents of one user past maxPerUser only up to the cap', async () => {
    const repo = slowRepo();
    const provisioner = createAgentProvisioner({ agents: repo, maxPerUser: 2, tokenExpiry: undefined, onAgentCreated: undefined, logger });
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => provisioner.ensure({ userId: 'u1', tenant: null, client: { clientId: `c${i}`, name: undefined }, now: NOW })),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(2);
    expect(results.filter((r) => !r.ok && r.error === 'access_denied')).toHaveLength(3);
    expect(repo.rows).toHaveLength(2);
  });

  it('creates one agent per pair under concurrency and calls the hook once for it', async () => {
    const repo = slowRepo();
    const hooked: string[] = [];
    const provisioner = createAgentProvisioner({
      agents: repo,
      maxPerUser: undefined,
      tokenExpiry: 60,
      onAgentCreated: async (a) => {
        hooked.push(a.id);
      },
      logger,
    });
    const results = await Promise.all(
      Array.from({ length: 5 }, () => provisioner.ensure({ userId: null, tenant: 't', client: { clientId: 'machine', name: 'M' }, now: NOW })),
    );
    const ids = new Set(results.map((r) => (r.ok ? r.agent.id : 'refused')));
    expect(ids.size).toBe(1);
    expect(hooked).toEqual([...ids]);
    expect(repo.rows).toHaveLength(1);
    expect(repo.rows[0]).toMatchObject({ type: 'autonomous', tenant: 't', expiresAt: NOW + 60_000 });
  });

  it.each([
    ['maxPerUser 0', { maxPerUser: 0 }],
    ['a fractional tokenExpiry', { tokenExpiry: 1.5 }],
  ])('refuses %s when built', (_name, bad) => {
    expect(() => createAgentProvisioner({ agents: slowRepo(), maxPerUser: undefined, tokenExpiry: undefined, onAgentCreated: undefined, logger, ...bad })).toThrow(
      RangeError,
    );
  });
});
