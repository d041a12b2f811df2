/**
 * GitOps-style policy in config: validated when the config is parsed, applied through the admin
 * service at start, idempotently (a second run changes nothing, not even the change log).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyDeclaredPolicy } from '../../src/admin/declared-policy.js';
import { parseConfig } from '../../src/config/parse-config.js';
import type { Store } from '../../src/store/store.js';
import { adminFixture, rejection, tempDatabase, type AdminTestDatabase } from './harness.js';

let db: AdminTestDatabase;
let store: Store;
beforeEach(async () => {
  db = await tempDatabase();
  store = await db.open();
});
afterEach(async () => {
  await db.cleanup();
});

const declared = {
  agents: [
    { id: 'ci', name: 'CI bot', tenant: 'acme', clientId: 'ci-client' },
    { id: 'helper', name: 'helper', type: 'delegated' as const },
  ],
  permissions: [
    { id: 'ci-github', agentId: 'ci', resource: 'mcp:github:*', constraints: { maxCallsPerHour: 100 } },
    { id: 'ci-no-delete', agentId: 'ci', resource: 'mcp:github:delete_repo', effect: 'deny' as const },
  ],
  budgets: [{ id: 'ci-daily', scope: 'agent' as const, subject: 'ci', metric: 'calls' as const, limit: 1000, period: 'day' as const }],
};

const configWith = (d: unknown, agents: Record<string, unknown> = {}) => parseConfig({ agents: { declared: d, ...agents } });

describe('declared policy', () => {
  it('is applied once, then re-applying changes nothing', async () => {
    const { admin } = adminFixture(store, { agents: { defaultPermissions: [{ resource: 'mcp:docs:*' }] } });
    const config = configWith(declared);
    const first = await applyDeclaredPolicy(config, admin);
    expect(first.created.sort()).toEqual(['agent:ci', 'agent:helper', 'budget:ci-daily', 'permission:ci-github', 'permission:ci-no-delete']);
    expect((await admin.getAgent('ci')).clientId).toBe('ci-client');
    const seq = await store.policy.lastChangeSeq();

    const second = await applyDeclaredPolicy(config, admin);
    expect(second).toEqual({
      created: [],
      updated: [],
      unchanged: ['agent:ci', 'agent:helper', 'permission:ci-github', 'permission:ci-no-delete', 'budget:ci-daily'],
      deleted: [],
    });
    expect(await store.policy.lastChangeSeq()).toBe(seq);
    // The default grant the new agent received is not the config's to reconcile.
    expect((await admin.listPermissions({ agentId: 'ci' })).map((p) => p.id).sort()).toEqual(['ci-github', 'ci-no-delete', 'ci.default.0']);
  });

  it('updates what changed and deletes what the config no longer declares', async () => {
    const { admin } = adminFixture(store);
    await applyDeclaredPolicy(configWith(declared), admin);
    await admin.grant({ id: 'manual', agentId: 'ci', resource: 'mcp:slack:post' }, { actor: 'api' });
    const next = {
      ...declared,
      agents: [{ ...declared.agents[0], name: 'CI bot v2' }, declared.agents[1]],
      permissions: [{ ...declared.permissions[0], constraints: { maxCallsPerHour: 50 } }],
      budgets: [],
    };
    const report = await applyDeclaredPolicy(configWith(next), admin);
    expect(report).toEqual({
      created: [],
      updated: ['agent:ci', 'permission:ci-github'],
      unchanged: ['agent:helper'],
      deleted: ['permission:ci-no-delete', 'budget:ci-daily'],
    });
    expect((await admin.getPermission('ci-github')).constraints).toEqual({ maxCallsPerHour: 50 });
    // Grants made through the API are not the config's.
    expect((await admin.getPermission('manual')).createdBy).toBe('api');
  });

  it('names the config key of an entry the service refuses', async () => {
    const { admin } = adminFixture(store);
    const err = await rejection(applyDeclaredPolicy(configWith({ permissions: [{ id: 'p', agentId: 'ghost', resource: 'mcp:a:b' }] }), admin));
    expect(err).toMatchObject({ code: 'NOT_FOUND', errors: [{ path: 'agents.declared.permissions[0].agentId' }] });
  });

  it.each<[string, unknown, string]>([
    ['a bad pattern', { permissions: [{ id: 'p', agentId: 'a', resource: 'mcp:x' }] }, 'agents.declared.permissions.0.resource'],
    ['a backtracking regex', { permissions: [{ id: 'p', agentId: 'a', resource: 'mcp:a:b', constraints: { args: { '/q': { pattern: '(a)\\1' } } } }] }, 'agents.declared.permissions.0.constraints.args["/q"].pattern'],
    ['a duplicate id', { budgets: [1, 2].map((limit) => ({ id: 'b', scope: 'tenant', subject: 't', metric: 'calls', limit, period: 'day' })) }, 'agents.declared.budgets.1.id'],
    ['a bad budget', { budgets: [{ id: 'b', scope: 'tenant', subject: 't', metric: 'calls', limit: -1, period: 'day' }] }, 'agents.declared.budgets.0.limit'],
  ])('refuses %s when the config is parsed', (_name, d, key) => {
    expect(() => configWith(d)).toThrow(key);
  });

  it('validates agents.defaultPermissions and admin.key when the config is parsed', () => {
    expect(() => parseConfig({ agents: { defaultPermissions: [{ resource: 'nope' }] } })).toThrow('agents.defaultPermissions.0.resource');
    expect(() => parseConfig({ admin: { key: 'short' } })).toThrow('admin.key: must be at least 32 characters');
    const config = parseConfig({});
    expect(config.agents).toMatchObject({ defaultPermissions: [], declared: { agents: [], permissions: [], budgets: [] } });
    expect(config.admin.key).toBeUndefined();
  });
});
