/**
 * The policy repository on the suite's store (SQLite file or fresh Postgres database): rows and
 * their change log in one transaction, one live delegation per child enforced by the schema,
 * usage deltas clamped at zero, and seqs in commit order even with writers in two connections.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentRow } from '../../src/store/agents-repo.js';
import { openStore } from '../../src/store/open-store.js';
import type { DelegationRecord, PolicyWrite } from '../../src/store/policy-records.js';
import { PolicyWriteConflict } from '../../src/store/policy-repo.js';
import type { Store } from '../../src/store/store.js';
import { freshDatabase, type TestDatabase } from '../helpers/database.js';

const T0 = Date.UTC(2025, 0, 6, 12);
let db: TestDatabase;
const stores: Store[] = [];

async function open(): Promise<Store> {
  const store = await openStore(db.config);
  stores.push(store);
  return store;
}

const agent = (id: string): PolicyWrite => {
  const row: AgentRow = { id, userId: 'alice', clientId: 'c', tenant: null, name: id, type: 'autonomous', status: 'active', expiresAt: null, createdAt: T0 };
  return { kind: 'agent', id, row };
};
const link = (id: string, parent: string, child: string): PolicyWrite => {
  const row: DelegationRecord = { id, parentAgentId: parent, childAgentId: child, permissions: [], maxDepth: 1, startsAt: T0, expiresAt: T0 + 1e6, revokedAt: null, createdAt: T0, createdBy: 'api' };
  return { kind: 'delegation', id, row };
};

beforeEach(async () => {
  db = await freshDatabase();
});
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  await db.drop();
});

describe('policy repository', () => {
  it('saves rows with their changes, reads them back and lists the log in order', async () => {
    const { policy } = await open();
    expect(await policy.lastChangeSeq()).toBe(0);
    const committed = await policy.write([agent('p'), agent('c')], T0);
    expect(committed.map((c) => c.seq)).toEqual([1, 2]);
    await policy.write([{ kind: 'permission', id: 'g', row: { id: 'g', agentId: 'p', resource: 'mcp:a:b', actions: ['call'], effect: 'allow', constraints: { maxCallsPerHour: 3 }, expiresAt: null, createdAt: T0, createdBy: 'api' } }], T0 + 1);
    expect(await policy.getPermission('g')).toMatchObject({ actions: ['call'], constraints: { maxCallsPerHour: 3 } });
    expect(await policy.lastChangeSeq()).toBe(3);
    expect((await policy.changesAfter(1, 10)).map((c) => [c.seq, c.kind, c.entityId, c.at])).toEqual([
      [2, 'agent', 'c', T0],
      [3, 'permission', 'g', T0 + 1],
    ]);
    expect(await policy.hasChange('agent', 'c')).toBe(true);
    expect(await policy.hasChange('agent', 'x')).toBe(false);
    expect(await policy.countLiveAgentsOfUser('alice')).toBe(2);
    expect((await policy.listAgents({ userId: 'alice' })).map((a) => a.id)).toEqual(['c', 'p']);
  });

  it('refuses a second live delegation of one child as PolicyWriteConflict, saving nothing of the batch', async () => {
    const { policy } = await open();
    await policy.write([agent('p'), agent('q'), agent('c'), link('d1', 'p', 'c')], T0);
    const seq = await policy.lastChangeSeq();
    const err = await policy.write([agent('extra'), link('d2', 'q', 'c')], T0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyWriteConflict);
    expect(await policy.getAgent('extra')).toBeUndefined();
    expect(await policy.lastChangeSeq()).toBe(seq);
  });

  it('adds usage clamped at zero and skips deleted budgets', async () => {
    const { policy } = await open();
    const budget = { id: 'b', scope: 'agent' as const, subject: 'p', metric: 'calls' as const, limit: 10, period: 'day' as const, prices: null, createdAt: T0, createdBy: 'api' };
    await policy.write([{ kind: 'budget', id: 'b', row: budget }], T0);
    await policy.addUsage([{ budgetId: 'b', periodStart: 0, delta: 3 }, { budgetId: 'gone', periodStart: 0, delta: 1 }]);
    await policy.addUsage([{ budgetId: 'b', periodStart: 0, delta: -5 }]);
    expect(await policy.getUsage('b', 0)).toEqual({ budgetId: 'b', periodStart: 0, used: 0 });
    await policy.addUsage([{ budgetId: 'b', periodStart: 0, delta: 2.5 }]);
    expect((await policy.getUsage('b', 0))?.used).toBe(2.5);
    expect(await policy.getUsage('gone', 0)).toBeUndefined();
  });

  it('hands out seqs in commit order to writers on two connections', async () => {
    const [one, two] = [await open(), await open()];
    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? one : two).policy.write([agent(`a${i}`), agent(`b${i}`)], T0 + i)));
    const log = await one.policy.changesAfter(0, 1000);
    expect(log.map((c) => c.seq)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    // The two rows of each batch are adjacent: no other writer's change came between them.
    for (let i = 0; i < 80; i += 2) expect(log[i].entityId.slice(1)).toBe(log[i + 1].entityId.slice(1));
  });
});
