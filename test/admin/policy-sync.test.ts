/**
 * Loading and keeping a live engine current: the gateway's engine is loaded from one connection;
 * changes arrive either through `onChange` (the admin API in the same process: next call) or
 * through a second connection standing in for the CLI (applied by the sync within one poll).
 * Budget usage survives a reload.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyPolicyChange } from '../../src/admin/apply-change.js';
import { loadPolicyEngine, type LoadedPolicy } from '../../src/admin/policy-loader.js';
import { createPolicySync } from '../../src/admin/policy-sync.js';
import type { PolicyRequest } from '../../src/policy/index.js';
import type { Store } from '../../src/store/store.js';
import { adminFixture, decideAsGate, T0, tempDatabase, type AdminTestDatabase } from './harness.js';

let db: AdminTestDatabase;
let gatewayStore: Store;
let cliStore: Store;
const loaded: LoadedPolicy[] = [];

beforeEach(async () => {
  db = await tempDatabase();
  gatewayStore = await db.open();
  cliStore = await db.open();
});
afterEach(async () => {
  for (const l of loaded.splice(0)) await l.close();
  await db.cleanup();
});

const call = (agentId: string, tool: string, extra: Partial<PolicyRequest> = {}): PolicyRequest => ({
  agentId,
  action: 'call',
  server: 'github',
  tool,
  ...extra,
});

async function load(store: Store, now: () => number, usageFlushMs?: number) {
  const policy = await loadPolicyEngine(store, { now, usageFlushMs });
  loaded.push(policy);
  return policy;
}

describe('loading', () => {
  it('builds the engine from the rows and reports the change-log position', async () => {
    const { admin, clock } = adminFixture(cliStore);
    await admin.createAgent({ id: 'a', name: 'a' });
    await admin.createAgent({ id: 'kid', name: 'kid', type: 'delegated' });
    await admin.grant({ id: 'g', agentId: 'a', resource: 'mcp:github:*' });
    await admin.delegate({ id: 'd', parentAgentId: 'a', childAgentId: 'kid', resources: ['mcp:github:list'] });
    const policy = await load(gatewayStore, () => clock.now);
    expect(policy.seq).toBe(4);
    expect(policy.errors).toEqual([]);
    expect(policy.index.counts()).toEqual({ agents: 2, permissions: 1, delegations: 1, budgets: 0 });
    expect(policy.engine.decide(call('kid', 'list'))).toMatchObject({ allow: true, chain: ['a', 'kid'] });
    expect(policy.engine.decide(call('kid', 'create_issue'))).toMatchObject({ allow: false, code: 'no_permission' });
  });
});

describe('sync from another process', () => {
  it('applies a grant and a suspension made through a second connection within one poll', async () => {
    const { admin, clock } = adminFixture(cliStore);
    await admin.createAgent({ id: 'a', name: 'a' });
    const policy = await load(gatewayStore, () => clock.now);
    const sync = createPolicySync({ store: gatewayStore, engine: policy.engine, since: policy.seq, pollMs: 50 });
    sync.start();
    try {
      expect(policy.engine.decide(call('a', 'create_issue'))).toMatchObject({ allow: false, code: 'no_permission' });
      await admin.grant({ id: 'g', agentId: 'a', resource: 'mcp:github:*' });
      await until(() => policy.engine.decide(call('a', 'create_issue')).allow, 2000);
      expect(sync.seq).toBe(2);

      await admin.suspendAgent('a');
      await until(() => !policy.engine.decide(call('a', 'create_issue')).allow, 2000);
      expect(policy.engine.decide(call('a', 'create_issue'))).toMatchObject({ code: 'agent_suspended' });
    } finally {
      await sync.stop();
    }
  });

  it('reloads each touched entity once per poll and drops deleted ones', async () => {
    const { admin, clock } = adminFixture(cliStore);
    await admin.createAgent({ id: 'a', name: 'a' });
    const policy = await load(gatewayStore, () => clock.now);
    const sync = createPolicySync({ store: gatewayStore, engine: policy.engine, since: policy.seq, batchSize: 2 });
    await admin.grant({ id: 'g', agentId: 'a', resource: 'mcp:github:*' });
    await admin.revokePermission('g');
    await admin.grant({ id: 'g2', agentId: 'a', resource: 'mcp:github:list' });
    expect(await sync.pollOnce()).toBe(2); // batch 1: g (twice) → 1 reload; batch 2: g2 → 1
    expect(policy.index.counts().permissions).toBe(1);
    expect(policy.engine.decide(call('a', 'list')).allow).toBe(true);
    expect(policy.engine.decide(call('a', 'create_issue')).allow).toBe(false);
    expect(await sync.pollOnce()).toBe(0);
  });
});

describe('the admin API path (same process)', () => {
  it('denies on the very next decide after a revoke, with no poll', async () => {
    const { admin: setup, clock } = adminFixture(cliStore);
    await setup.createAgent({ id: 'a', name: 'a' });
    await setup.createAgent({ id: 'kid', name: 'kid', type: 'delegated' });
    await setup.createAgent({ id: 'grandkid', name: 'grandkid', type: 'delegated' });
    await setup.grant({ id: 'g', agentId: 'a', resource: 'mcp:github:*' });
    await setup.delegate({ id: 'd1', parentAgentId: 'a', childAgentId: 'kid', resources: ['mcp:github:*'], maxDepth: 2 });
    await setup.delegate({ id: 'd2', parentAgentId: 'kid', childAgentId: 'grandkid', resources: ['mcp:github:list'] });
    const policy = await load(gatewayStore, () => clock.now);
    const { admin } = adminFixture(gatewayStore, { engine: policy.engine, onChange: (c) => applyPolicyChange(policy.index, c) });

    // Warm the decision cache, then revoke: the cached allow must not survive.
    expect(policy.engine.decide(call('grandkid', 'list')).allow).toBe(true);
    expect(policy.engine.decide(call('grandkid', 'list')).allow).toBe(true);
    await admin.revokeDelegation('d1');
    expect(policy.engine.decide(call('grandkid', 'list'))).toMatchObject({ allow: false, code: 'delegation_expired' });
    expect(policy.engine.decide(call('a', 'list')).allow).toBe(true);

    await admin.revokePermission('g');
    expect(policy.engine.decide(call('a', 'list'))).toMatchObject({ allow: false, code: 'no_permission' });

    await admin.grant({ id: 'g3', agentId: 'a', resource: 'mcp:github:list' });
    expect(policy.engine.decide(call('a', 'list')).allow).toBe(true);
    await admin.revokeAgent('a');
    expect(policy.engine.decide(call('a', 'list'))).toMatchObject({ allow: false, code: 'agent_revoked' });
  });
});

describe('budget usage', () => {
  it('is persisted and survives a reload', async () => {
    const { admin, clock } = adminFixture(cliStore);
    await admin.createAgent({ id: 'a', name: 'a' });
    await admin.grant({ id: 'g', agentId: 'a', resource: 'mcp:github:*' });
    await admin.setBudget({ id: 'b', scope: 'agent', subject: 'a', metric: 'calls', limit: 5, period: 'day' });
    const first = await load(gatewayStore, () => clock.now, 10_000);
    for (let i = 0; i < 3; i++) expect((await decideAsGate(first.engine, call('a', 'list', { requestKey: `r${i}` }))).allow).toBe(true);
    // A refunded call gives its spending back, in memory and in the store.
    const refunded = await decideAsGate(first.engine, call('a', 'list', { requestKey: 'r-fail' }));
    if (!refunded.allow || refunded.reservation === null) throw new Error('expected a reservation');
    first.engine.ledger!.refund(refunded.reservation);
    await first.close();
    expect(await gatewayStore.policy.getUsage('b', Date.UTC(2025, 0, 6))).toEqual({ budgetId: 'b', periodStart: Date.UTC(2025, 0, 6), used: 3 });
    expect((await admin.getBudget('b')).used).toBe(3);

    // "Restart": a fresh engine from another connection starts from what was spent.
    const second = await load(cliStore, () => clock.now, 10_000);
    expect(second.engine.explain(call('a', 'list')).budgets).toEqual([expect.objectContaining({ spent: 3 })]);
    expect((await decideAsGate(second.engine, call('a', 'list', { requestKey: 's1' }))).allow).toBe(true);
    expect((await decideAsGate(second.engine, call('a', 'list', { requestKey: 's2' }))).allow).toBe(true);
    expect(await decideAsGate(second.engine, call('a', 'list', { requestKey: 's3' }))).toMatchObject({ allow: false, code: 'budget_exhausted' });
    await second.flushUsage();
    expect((await gatewayStore.policy.getUsage('b', Date.UTC(2025, 0, 6)))?.used).toBe(5);

    // The next day starts empty, by itself.
    clock.now = T0 + 24 * 3_600_000;
    expect((await decideAsGate(second.engine, call('a', 'list', { requestKey: 'n1' }))).allow).toBe(true);
  });
});

/** Waits (bounded) until `check` holds. */
async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
