/**
 * `startPolicy`, the one call a gateway makes: engine loaded, declared config applied, admin API
 * changes live at once, other processes' changes within a poll, and agents that OAuth created
 * brought under policy by `adoptAgent`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPolicy, type PolicyRuntime } from '../../src/admin/start-policy.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { isPortcullisError } from '../../src/errors.js';
import type { Store } from '../../src/store/store.js';
import { adminFixture, decideAsGate, T0, tempDatabase, type AdminTestDatabase } from './harness.js';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const KEY = 'a-long-enough-admin-key-for-tests-0123';
let db: AdminTestDatabase;
let store: Store;
let runtime: PolicyRuntime | undefined;

beforeEach(async () => {
  db = await tempDatabase();
  store = await db.open();
});
afterEach(async () => {
  await runtime?.close();
  runtime = undefined;
  await db.cleanup();
});

const config = parseConfig({
  agents: {
    defaultPermissions: [{ resource: 'mcp:docs:search' }],
    declared: {
      agents: [{ id: 'ci', name: 'CI' }],
      permissions: [{ id: 'ci-gh', agentId: 'ci', resource: 'mcp:github:list' }],
    },
  },
});
const call = (agentId: string, server: string, tool: string) => ({ agentId, action: 'call' as const, server, tool });

describe('startPolicy', () => {
  it('loads, applies declared policy, and keeps the engine current from both paths', async () => {
    runtime = await startPolicy({ store, config, now: () => T0, logger: silent, pollMs: 50, env: { PORTCULLIS_ADMIN_KEY: KEY } });
    expect(runtime.adminKey).toBe(KEY);
    expect(runtime.declared.created).toEqual(['agent:ci', 'permission:ci-gh']);
    const { engine, admin } = runtime;
    expect(engine.decide(call('ci', 'github', 'list')).allow).toBe(true);
    expect(engine.decide(call('ci', 'docs', 'search')).allow).toBe(true);

    // Admin API path: applied before the call returns.
    await admin.grant({ id: 'ci-slack', agentId: 'ci', resource: 'mcp:slack:post' });
    expect(engine.decide(call('ci', 'slack', 'post')).allow).toBe(true);

    // Another process (the CLI): applied by the sync within a poll.
    const { admin: cli } = adminFixture(await db.open());
    await cli.revokePermission('ci-slack');
    const deadline = Date.now() + 2000;
    while (engine.decide(call('ci', 'slack', 'post')).allow) {
      if (Date.now() > deadline) throw new Error('the sync did not apply the revoke');
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  it('adopts an agent created by OAuth once: known to the engine, default grants given, never re-granted', async () => {
    runtime = await startPolicy({ store, config, now: () => T0, logger: silent, env: {} });
    expect(runtime.adminKey).toBeNull();
    await store.agents.insert({ id: 'oauth-1', userId: 'alice', clientId: 'c1', tenant: null, name: 'app for alice', type: 'interactive', status: 'active', expiresAt: null, createdAt: T0 });
    expect(runtime.engine.decide(call('oauth-1', 'docs', 'search'))).toMatchObject({ allow: false, code: 'agent_revoked' });
    expect(await runtime.admin.adoptAgent('oauth-1')).toBe(true);
    expect(runtime.engine.decide(call('oauth-1', 'docs', 'search')).allow).toBe(true);
    await runtime.admin.revokePermission('oauth-1.default.0');
    expect(await runtime.admin.adoptAgent('oauth-1')).toBe(false);
    expect(runtime.engine.decide(call('oauth-1', 'docs', 'search')).allow).toBe(false);
  });

  it('keeps per-tool prices current for the estimate of tokens and cost budgets', async () => {
    runtime = await startPolicy({ store, config, now: () => T0, logger: silent, env: {} });
    const { admin, prices } = runtime;
    expect(prices.estimateFor('github', 'list')).toBeUndefined();
    await admin.setBudget({ id: 'c1', scope: 'agent', subject: 'ci', metric: 'cost', limit: 100, period: 'day', prices: { 'mcp:github:*': 2, 'mcp:github:search': 5 } });
    await admin.setBudget({ id: 't1', scope: 'tenant', subject: 'acme', metric: 'tokens', limit: 1e6, period: 'month', prices: { 'mcp:**': 1000 } });
    await admin.setBudget({ id: 'c2', scope: 'tenant', subject: 'acme', metric: 'cost', limit: 100, period: 'day', prices: { 'mcp:github:list': 3 } });
    expect(prices.estimateFor('github', 'search')).toEqual({ tokens: 1000, cost: 5 }); // the most specific price of c1
    expect(prices.estimateFor('github', 'list')).toEqual({ tokens: 1000, cost: 3 }); // the higher of c1 (2) and c2 (3)
    await admin.deleteBudget('t1');
    expect(prices.estimateFor('github', 'list')).toEqual({ cost: 3 });
    // Reserved with the estimate; c1 counts it.
    const decision = await decideAsGate(runtime.engine, { ...call('ci', 'github', 'list'), estimate: prices.estimateFor('github', 'list') });
    expect(decision.allow).toBe(true);
  });

  it('fails start-up like a config error when a declared entry is refused', async () => {
    const bad = parseConfig({ agents: { declared: { permissions: [{ id: 'p', agentId: 'ghost', resource: 'mcp:a:b' }] } } });
    const err = await startPolicy({ store, config: bad, now: () => T0, logger: silent, env: {} }).catch((e: unknown) => e);
    expect(isPortcullisError(err, 'CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toContain('agents.declared.permissions[0].agentId: agent ghost does not exist');
  });
});
