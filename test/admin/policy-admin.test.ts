/**
 * The admin service over a real database (a SQLite file or Postgres, per the suite's store): bad
 * grants and delegations are refused before anything is saved, with the field named; good ones
 * are saved with their change-log rows in one transaction and reported to `onChange`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.js';
import { adminFixture, rejection, T0, tempDatabase, type AdminTestDatabase } from './harness.js';

const HOUR = 3_600_000;
let db: AdminTestDatabase;
let store: Store;

beforeEach(async () => {
  db = await tempDatabase();
  store = await db.open();
});
afterEach(async () => {
  await db.cleanup();
});

describe('agents', () => {
  it('creates autonomous agents with the default permissions, in one logged change set', async () => {
    const { admin, changes } = adminFixture(store, {
      agents: { defaultPermissions: [{ resource: 'mcp:docs:*', actions: ['call', 'read'] }], tokenExpiry: 3600 },
    });
    const agent = await admin.createAgent({ name: 'ci bot', tenant: 'acme' });
    expect(agent).toMatchObject({ id: 'agt_1', type: 'autonomous', status: 'active', clientId: 'admin:agt_1', expiresAt: T0 + HOUR });
    const grants = await admin.listPermissions({ agentId: agent.id });
    expect(grants.map((g) => [g.id, g.resource, g.actions])).toEqual([['agt_1.default.0', 'mcp:docs:*', ['call', 'read']]]);
    expect(changes.map((c) => [c.kind, c.id])).toEqual([
      ['agent', 'agt_1'],
      ['permission', 'agt_1.default.0'],
    ]);
    expect(await store.policy.changesAfter(0, 10)).toEqual([
      { seq: 1, kind: 'agent', entityId: 'agt_1', at: T0 },
      { seq: 2, kind: 'permission', entityId: 'agt_1.default.0', at: T0 },
    ]);
    // Delegated agents act only on their delegation: no defaults.
    await admin.createAgent({ id: 'kid', name: 'helper', type: 'delegated' });
    expect(await admin.listPermissions({ agentId: 'kid' })).toEqual([]);
  });

  it('enforces maxPerUser, unique ids and final revocation', async () => {
    const { admin } = adminFixture(store, { agents: { maxPerUser: 1 } });
    await admin.createAgent({ id: 'a1', name: 'one', userId: 'alice' });
    expect(await rejection(admin.createAgent({ name: 'two', userId: 'alice' }))).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('maxPerUser') });
    expect(await rejection(admin.createAgent({ id: 'a1', name: 'dup' }))).toMatchObject({ code: 'CONFLICT' });
    await admin.revokeAgent('a1');
    expect(await rejection(admin.activateAgent('a1'))).toMatchObject({ code: 'CONFLICT' });
    // A revoked agent no longer counts towards the quota.
    await admin.createAgent({ name: 'two', userId: 'alice' });
    expect(await rejection(admin.getAgent('nope'))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await rejection(admin.createAgent({ name: '' }))).toMatchObject({ code: 'INVALID_INPUT', errors: [{ path: 'name' }] });
  });

  it('deletes an agent with its grants, links and budgets, naming each in the change log', async () => {
    const { admin, changes } = adminFixture(store);
    await admin.createAgent({ id: 'a', name: 'a' });
    await admin.createAgent({ id: 'b', name: 'b', type: 'delegated' });
    await admin.grant({ id: 'g', agentId: 'a', resource: 'mcp:github:*' });
    await admin.delegate({ id: 'd', parentAgentId: 'a', childAgentId: 'b', resources: ['mcp:github:list'] });
    await admin.setBudget({ id: 'bud', scope: 'agent', subject: 'a', metric: 'calls', limit: 5, period: 'day' });
    changes.length = 0;
    await admin.deleteAgent('a');
    expect(changes.map((c) => `${c.kind}:${c.id}`)).toEqual(['permission:g', 'delegation:d', 'budget:bud', 'agent:a']);
    expect(await admin.listPermissions()).toEqual([]);
    expect(await admin.listDelegations()).toEqual([]);
  });
});

describe('grants are compiled before they are saved', () => {
  beforeEach(async () => {
    const { admin } = adminFixture(store);
    await admin.createAgent({ id: 'a', name: 'a' });
    await admin.createAgent({ id: 'kid', name: 'kid', type: 'delegated' });
  });

  it.each<[string, Record<string, unknown>, string, string, string]>([
    ['bad pattern', { resource: 'github:*' }, 'INVALID_INPUT', 'resource', 'mcp:'],
    ['partial wildcard', { resource: 'mcp:github:get_*' }, 'INVALID_INPUT', 'resource', 'whole segment'],
    ['backtracking regex (backreference)', { constraints: { args: { '/q': { pattern: '(a+)\\1' } } } }, 'INVALID_INPUT', 'constraints.args["/q"].pattern', 'RE2'],
    ['lookahead regex', { constraints: { args: { '/q': { pattern: '(?=a)a' } } } }, 'INVALID_INPUT', 'constraints.args["/q"].pattern', 'RE2'],
    ['misspelt constraint', { constraints: { maxCallsPerHuor: 5 } }, 'INVALID_INPUT', 'constraints', 'maxCallsPerHuor'],
    ['bad CIDR', { constraints: { ipAllowlist: ['10.0.0.0/33'] } }, 'INVALID_INPUT', 'constraints.ipAllowlist[0]', ''],
    ['unknown action', { actions: ['delete'] }, 'INVALID_INPUT', 'actions[0]', ''],
    ['already expired', { expiresAt: T0 - 1 }, 'INVALID_INPUT', 'expiresAt', 'already be expired'],
    ['bad ISO date', { expiresAt: 'tomorrow' }, 'INVALID_INPUT', 'expiresAt', 'ISO 8601'],
    ['unknown agent', { agentId: 'ghost' }, 'NOT_FOUND', 'agentId', 'does not exist'],
    ['delegated agent', { agentId: 'kid' }, 'INVALID_INPUT', 'agentId', 'delegated'],
    ['conditional deny', { effect: 'deny', constraints: { maxCallsPerDay: 1 } }, 'INVALID_INPUT', 'constraints.maxCallsPerDay', 'unconditional'],
  ])('refuses %s', async (_name, over, code, path, message) => {
    const { admin, changes } = adminFixture(store);
    const before = await store.policy.lastChangeSeq();
    const err = await rejection(admin.grant({ agentId: 'a', resource: 'mcp:github:create_issue', ...over }));
    expect(err.code).toBe(code);
    expect(err.errors.find((e) => e.path === path)?.message ?? '').toContain(message);
    expect(err.errors.map((e) => e.path)).toContain(path);
    expect(await admin.listPermissions()).toEqual([]);
    expect(await store.policy.lastChangeSeq()).toBe(before);
    expect(changes).toEqual([]);
  });

  it('saves a good grant normalized, with ISO expiry sugar and created_by', async () => {
    const { admin } = adminFixture(store);
    const row = await admin.grant(
      { agentId: 'a', resource: 'mcp:github:*', actions: ['call'], constraints: { maxCallsPerHour: 10 }, expiresAt: '2025-02-01T00:00:00Z' },
      { actor: 'cli:alice' },
    );
    expect(row).toMatchObject({ agentId: 'a', effect: 'allow', constraints: { maxCallsPerHour: 10 }, expiresAt: Date.UTC(2025, 1, 1), createdBy: 'cli:alice' });
    expect(await admin.getPermission(row.id)).toEqual(row);
    expect(await rejection(admin.grant({ id: row.id, agentId: 'a', resource: 'mcp:x:y' }))).toMatchObject({ code: 'CONFLICT' });
    await admin.revokePermission(row.id);
    expect(await rejection(admin.getPermission(row.id))).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('delegations are validated against the chain', () => {
  let admin: ReturnType<typeof adminFixture>['admin'];
  let clock: ReturnType<typeof adminFixture>['clock'];
  beforeEach(async () => {
    ({ admin, clock } = adminFixture(store));
    await admin.createAgent({ id: 'root', name: 'root' });
    for (const id of ['b', 'c', 'd']) await admin.createAgent({ id, name: id, type: 'delegated' });
    await admin.grant({ id: 'g1', agentId: 'root', resource: 'mcp:github:*', actions: ['call'] });
    await admin.grant({ id: 'g2', agentId: 'root', resource: 'mcp:github:delete_repo', effect: 'deny' });
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    ['a wider pattern', { resources: ['mcp:**'] }, 'resources[0]', 'wider'],
    ['another server', { resources: ['mcp:slack:post'] }, 'resources[0]', 'wider'],
    ['an action the parent lacks', { resources: ['mcp:github:list'], actions: ['call', 'read'] }, 'resources[0]', 'wider'],
    ['what the parent is denied', { resources: ['mcp:github:delete_repo'] }, 'resources[0]', 'denied'],
    ['self-delegation', { childAgentId: 'root' }, 'childAgentId', 'itself'],
    ['a non-delegated child', { childAgentId: 'root2' }, 'childAgentId', 'does not exist'],
    ['a past expiry', { expiresAt: T0 - 1 }, 'expiresAt', 'already be expired'],
    ['no permissions', { resources: undefined }, 'permissions', 'either'],
  ])('refuses %s', async (_name, over, path, message) => {
    const err = await rejection(admin.delegate({ parentAgentId: 'root', childAgentId: 'b', resources: ['mcp:github:list'], ...over }));
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.errors.find((e) => e.path === path)?.message ?? JSON.stringify(err.errors)).toContain(message);
    expect(await admin.listDelegations()).toEqual([]);
  });

  it('refuses cycles and a second live link into the same child', async () => {
    await admin.delegate({ id: 'l1', parentAgentId: 'root', childAgentId: 'b', resources: ['mcp:github:*'], maxDepth: 3 });
    await admin.delegate({ id: 'l2', parentAgentId: 'b', childAgentId: 'c', resources: ['mcp:github:*'] });
    const cycle = await rejection(admin.delegate({ parentAgentId: 'c', childAgentId: 'b', resources: ['mcp:github:list'] }));
    expect(cycle.errors.map((e) => e.path)).toContain('childAgentId');
    const twice = await rejection(admin.delegate({ parentAgentId: 'root', childAgentId: 'c', resources: ['mcp:github:list'] }));
    expect(twice.errors[0]).toMatchObject({ path: 'childAgentId', message: expect.stringContaining('already holds') });
  });

  it('lets exactly one of two racing delegations into the same child win', async () => {
    const results = await Promise.allSettled(
      ['x', 'y'].map((id) => admin.delegate({ id, parentAgentId: 'root', childAgentId: 'b', resources: ['mcp:github:list'] })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason.code).toMatch(/CONFLICT|INVALID_INPUT/);
    expect((await admin.listDelegations({ childAgentId: 'b' })).filter((d) => d.revokedAt === null)).toHaveLength(1);
    // The database refuses a second live link even when a writer skips the service's checks.
    const live = (await admin.listDelegations({ childAgentId: 'b' }))[0];
    await expect(store.policy.write([{ kind: 'delegation', id: 'z', row: { ...live, id: 'z' } }], T0)).rejects.toThrow('conflicting write');
  });

  it('counts depth from the root link, whatever a lower link asks for', async () => {
    await admin.delegate({ id: 'l1', parentAgentId: 'root', childAgentId: 'b', resources: ['mcp:github:*'], maxDepth: 2 });
    await admin.delegate({ id: 'l2', parentAgentId: 'b', childAgentId: 'c', resources: ['mcp:github:*'], maxDepth: 16 });
    const err = await rejection(admin.delegate({ parentAgentId: 'c', childAgentId: 'd', resources: ['mcp:github:list'], maxDepth: 16 }));
    expect(err.errors[0]).toMatchObject({ path: 'maxDepth', message: expect.stringContaining('allows 2 link(s)') });
  });

  it("clamps a child's expiry to its parent's", async () => {
    await admin.delegate({ id: 'l1', parentAgentId: 'root', childAgentId: 'b', resources: ['mcp:github:*'], maxDepth: 2, expiresAt: T0 + HOUR });
    clock.now = T0 + 60_000;
    const link = await admin.delegate({ id: 'l2', parentAgentId: 'b', childAgentId: 'c', resources: ['mcp:github:list'], expiresAt: T0 + 24 * HOUR });
    expect(link).toMatchObject({ expiresAt: T0 + HOUR, startsAt: T0 + 60_000, clamped: true });
    expect((await admin.getDelegation('l2')).expiresAt).toBe(T0 + HOUR);
    const revoked = await admin.revokeDelegation('l1');
    expect(revoked.revokedAt).toBe(T0 + 60_000);
  });
});

describe('budgets', () => {
  it('sets one budget per scope, subject, metric and period, validated', async () => {
    const { admin } = adminFixture(store);
    await admin.createAgent({ id: 'a', name: 'a' });
    const first = await admin.setBudget({ scope: 'agent', subject: 'a', metric: 'calls', limit: 5, period: 'day' });
    const again = await admin.setBudget({ scope: 'agent', subject: 'a', metric: 'calls', limit: 7, period: 'day' });
    expect(again).toMatchObject({ id: first.id, limit: 7, used: 0 });
    expect(await admin.listBudgets()).toHaveLength(1);
    const bad = await rejection(admin.setBudget({ scope: 'galaxy', subject: 'a', metric: 'calls', limit: -1, period: 'day' }));
    expect(bad.errors.map((e) => e.path).sort()).toEqual(['limit', 'scope']);
    const prices = await rejection(admin.setBudget({ scope: 'agent', subject: 'a', metric: 'cost', limit: 5, period: 'day', prices: { 'github.x': 1 } }));
    expect(prices.errors[0]).toMatchObject({ path: 'prices["github.x"]' });
    expect(await rejection(admin.setBudget({ scope: 'agent', subject: 'ghost', metric: 'calls', limit: 1, period: 'day' }))).toMatchObject({ code: 'NOT_FOUND' });
  });
});
