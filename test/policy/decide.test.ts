import { describe, expect, it } from 'vitest';
import { createPolicyEngine, type PermissionInput, type PolicyIndex } from '../../src/policy/index.js';
import { agent, buildPolicy, call, grant, T0 } from './build-policy.js';

const allowAll = (id: string, resource: string, constraints: PermissionInput['constraints'] = {}): PermissionInput => ({ id, resource, actions: ['call'], constraints });
const deny = (id: string, resource: string, expiresAt?: number): PermissionInput => ({
  id,
  resource,
  actions: ['call', 'read'],
  effect: 'deny',
  constraints: expiresAt === undefined ? {} : { expiresAt },
});

function decideWith(grants: PermissionInput[], server: string, tool: string, extra: Record<string, unknown> = {}, now = T0) {
  const { engine } = buildPolicy({ agents: [agent('a')], grants: { a: grants }, now });
  return engine.decide(call('a', server, tool, extra));
}

describe('decide: patterns', () => {
  it.each<[string, string, string, boolean]>([
    ['mcp:github:create_issue', 'github', 'create_issue', true],
    ['mcp:github:create_issue', 'github', 'delete_repo', false],
    ['mcp:github:*', 'github', 'delete_repo', true],
    ['mcp:github:*', 'gitlab', 'delete_repo', false],
    ['mcp:github:*', 'github', 'ns:tool', false],
    ['mcp:github:**', 'github', 'ns:tool', true],
    ['mcp:*:search', 'brave', 'search', true],
    ['mcp:*:search', 'brave', 'fetch', false],
    ['mcp:**', 'anything', 'at_all', true],
  ])('%s allows %s.%s → %s', (resource, server, tool, allowed) => {
    expect(decideWith([allowAll('g', resource)], server, tool).allow).toBe(allowed);
  });

  it('names the tool and the missing permission', () => {
    expect(decideWith([allowAll('g', 'mcp:github:create_issue')], 'github', 'delete_repo')).toEqual({
      allow: false,
      code: 'no_permission',
      reason: 'tool github.delete_repo denied: no permission mcp:github:delete_repo',
    });
  });

  it('checks the action: a read grant does not allow calls', () => {
    const { engine } = buildPolicy({ agents: [agent('a')], grants: { a: [{ id: 'r', resource: 'mcp:fs:**', actions: ['read'] }] } });
    expect(engine.decide(call('a', 'fs', 'file:///etc/hosts'))).toMatchObject({ allow: false, code: 'no_permission' });
    const read = engine.decide({ agentId: 'a', action: 'read', server: 'fs', tool: 'file:///etc/hosts' });
    expect(read).toMatchObject({ allow: true, grantIds: ['r'] });
    const get = engine.decide({ agentId: 'a', action: 'get', server: 'fs', tool: 'p' });
    expect(get).toMatchObject({ allow: false, reason: 'prompt fs.p denied: no permission mcp:fs:p (get)' });
  });

  it('refuses a server name that would shift the segments', () => {
    const r = decideWith([allowAll('g', 'mcp:git:**')], 'git:hub', 'x');
    expect(r).toMatchObject({ allow: false, code: 'no_permission' });
  });
});

describe('decide: an explicit deny wins, whatever the order or specificity', () => {
  it.each<[string, PermissionInput[], string, boolean]>([
    ['deny exact beats allow wildcard', [allowAll('a1', 'mcp:github:*'), deny('d1', 'mcp:github:delete_repo')], 'delete_repo', false],
    ['other tools stay allowed', [allowAll('a1', 'mcp:github:*'), deny('d1', 'mcp:github:delete_repo')], 'create_issue', true],
    ['deny wildcard beats allow exact', [allowAll('a1', 'mcp:github:delete_repo'), deny('d1', 'mcp:**')], 'delete_repo', false],
    ['deny listed first', [deny('d1', 'mcp:github:*'), allowAll('a1', 'mcp:github:delete_repo')], 'delete_repo', false],
    ['deny of another server does not apply', [allowAll('a1', 'mcp:github:*'), deny('d1', 'mcp:gitlab:*')], 'delete_repo', true],
    ['a lapsed deny no longer applies', [allowAll('a1', 'mcp:github:*'), deny('d1', 'mcp:github:*', T0)], 'delete_repo', true],
    ['a deny before its expiry applies', [allowAll('a1', 'mcp:github:*'), deny('d1', 'mcp:github:*', T0 + 1)], 'delete_repo', false],
  ])('%s', (_name, grants, tool, allowed) => {
    const r = decideWith(grants, 'github', tool);
    expect(r.allow).toBe(allowed);
    if (!r.allow) expect(r.code).toBe('no_permission');
  });

  it('says which deny refused', () => {
    expect(decideWith([allowAll('a1', 'mcp:github:*'), deny('d1', 'mcp:*:delete_repo')], 'github', 'delete_repo')).toMatchObject({
      reason: 'tool github.delete_repo denied: mcp:github:delete_repo is denied by mcp:*:delete_repo',
    });
  });
});

describe('decide: constraints', () => {
  const office = { timeZone: 'Europe/Berlin', days: ['mon' as const], hours: { from: '09:00', to: '17:00' } };
  it.each<[string, PermissionInput['constraints'], Record<string, unknown>, string | true]>([
    ['args ok', { args: { '/repo': { pattern: 'acme/.*' } } }, { args: { repo: 'acme/web' } }, true],
    ['args fail', { args: { '/repo': { pattern: 'acme/.*' } } }, { args: { repo: 'evil/web' } }, 'constraint_args'],
    ['nested args with escapes', { args: { '/o/a~1b/0': { equals: 1 } } }, { args: { o: { 'a/b': [1] } } }, true],
    ['inside the window', { timeWindow: office }, {}, true], // T0 = Monday 13:00 Berlin
    ['outside the window', { timeWindow: { ...office, hours: { from: '14:00', to: '15:00' } } }, {}, 'outside_time_window'],
    ['ip allowed', { ipAllowlist: ['10.0.0.0/8'] }, { ip: '10.1.1.1' }, true],
    ['ip mapped allowed', { ipAllowlist: ['10.0.0.0/8'] }, { ip: '::ffff:10.1.1.1' }, true],
    ['ip refused', { ipAllowlist: ['10.0.0.0/8'] }, { ip: '192.168.0.1' }, 'ip_not_allowed'],
    ['ip missing', { ipAllowlist: ['10.0.0.0/8'] }, {}, 'ip_not_allowed'],
    ['ip garbage', { ipAllowlist: ['10.0.0.0/8'] }, { ip: 'not-an-ip' }, 'ip_not_allowed'],
    ['not expired', { expiresAt: T0 + 1 }, {}, true],
    ['expired', { expiresAt: T0 }, {}, 'grant_expired'],
    ['approval', { requireApproval: true }, {}, 'approval_required'],
  ])('%s', (_name, constraints, extra, expected) => {
    const r = decideWith([allowAll('g', 'mcp:github:*', constraints)], 'github', 'create_issue', extra);
    if (expected === true) expect(r).toMatchObject({ allow: true, grantIds: ['g'] });
    else expect(r).toMatchObject({ allow: false, code: expected });
  });

  it('tries every matching allow: a narrow grant failing does not hide a wider one', () => {
    const grants = [allowAll('narrow', 'mcp:github:create_issue', { args: { '/repo': { equals: 'x' } } }), allowAll('wide', 'mcp:github:*')];
    expect(decideWith(grants, 'github', 'create_issue', { args: { repo: 'y' } })).toMatchObject({ allow: true, grantIds: ['wide'] });
    expect(decideWith(grants, 'github', 'create_issue', { args: { repo: 'x' } })).toMatchObject({ allow: true, grantIds: ['narrow'] });
  });

  it('reports the narrowest grant’s failure when none passes', () => {
    const grants = [allowAll('narrow', 'mcp:github:create_issue', { args: { '/repo': { equals: 'x' } } }), allowAll('wide', 'mcp:github:*', { requireApproval: true })];
    expect(decideWith(grants, 'github', 'create_issue', { args: { repo: 'y' } })).toMatchObject({ code: 'constraint_args' });
  });

  it('counts a rate limit against the grant, across all tools it covers', () => {
    const { engine, clock } = buildPolicy({ agents: [agent('a')], grants: { a: [allowAll('g', 'mcp:github:*', { maxCallsPerHour: 3 })] } });
    const tools = ['a', 'b', 'c', 'd'];
    expect(tools.map((t) => engine.decide(call('a', 'github', t)).allow)).toEqual([true, true, true, false]);
    expect(engine.decide(call('a', 'github', 'e'))).toMatchObject({ code: 'rate_limited', reason: 'tool github.e denied: rate limit 3/hour of mcp:github:* reached' });
    clock.now += 3_600_000 + 60_000;
    expect(engine.decide(call('a', 'github', 'a')).allow).toBe(true);
  });

  it('a refused call spends no rate', () => {
    const { engine } = buildPolicy({ agents: [agent('a')], grants: { a: [allowAll('g', 'mcp:github:*', { maxCallsPerHour: 1, args: { '/ok': { equals: true } } })] } });
    for (let i = 0; i < 5; i++) expect(engine.decide(call('a', 'github', 't', { args: { ok: false } })).allow).toBe(false);
    expect(engine.decide(call('a', 'github', 't', { args: { ok: true } })).allow).toBe(true);
  });
});

describe('decide: agents', () => {
  it.each<[string, Parameters<typeof agent>[1], string]>([
    ['suspended', { status: 'suspended' }, 'agent_suspended'],
    ['revoked', { status: 'revoked' }, 'agent_revoked'],
    ['expired', { expiresAt: T0 }, 'agent_suspended'],
  ])('a %s agent is denied', (_name, over, code) => {
    const { engine } = buildPolicy({ agents: [agent('a', over)], grants: { a: [allowAll('g', 'mcp:**')] } });
    expect(engine.decide(call('a', 'github', 'x'))).toMatchObject({ allow: false, code });
  });

  it('an unknown agent is denied', () => {
    const { engine } = buildPolicy({});
    expect(engine.decide(call('ghost', 'github', 'x'))).toMatchObject({ allow: false, code: 'agent_revoked' });
  });

  it('reads agent status on every call, even when the cache still holds the entry', () => {
    const { index } = buildPolicy({ agents: [agent('a')], grants: { a: [allowAll('g', 'mcp:**')] } });
    let status: 'active' | 'suspended' = 'active';
    // A directory whose agent status changes without a version bump: only a per-call read sees it.
    const sneaky: PolicyIndex = { ...index, get version() { return index.version; }, agent: (id) => { const a = index.agent(id); return a && { ...a, status }; } };
    const engine = createPolicyEngine({ index: sneaky, now: () => T0 });
    expect(engine.decide(call('a', 'github', 'x')).allow).toBe(true);
    expect(engine.cacheSize()).toBe(1);
    status = 'suspended';
    expect(engine.decide(call('a', 'github', 'x'))).toMatchObject({ code: 'agent_suspended' });
  });

  it('a grant change makes cached entries unreachable', () => {
    const { engine, index } = buildPolicy({ agents: [agent('a')], grants: { a: [allowAll('g', 'mcp:github:*')] } });
    expect(engine.decide(call('a', 'github', 'x')).allow).toBe(true);
    index.removePermission('g');
    expect(engine.decide(call('a', 'github', 'x'))).toMatchObject({ code: 'no_permission' });
    index.putPermission('a', grant(allowAll('g2', 'mcp:github:x')));
    expect(engine.decide(call('a', 'github', 'x'))).toMatchObject({ allow: true, grantIds: ['g2'] });
  });
});

describe('decide: never throws', () => {
  it('turns an exception into internal_error', () => {
    const { engine } = buildPolicy({ agents: [agent('a')], grants: { a: [allowAll('g', 'mcp:**', { args: { '/x': { equals: 1 } } })] } });
    const hostile = new Proxy({}, { getOwnPropertyDescriptor() { throw new Error('boom'); } });
    const r = engine.decide(call('a', 'github', 'x', { args: hostile }));
    expect(r).toMatchObject({ allow: false, code: 'internal_error', reason: 'tool github.x denied: internal error while evaluating the policy' });
    expect(r.allow === false && (r.cause as Error).message).toBe('boom');
  });

  it('survives a malformed request', () => {
    const { engine } = buildPolicy({});
    expect(engine.decide(null as never)).toMatchObject({ allow: false, code: 'internal_error' });
    expect(engine.decide({ agentId: 'a' } as never)).toMatchObject({ allow: false });
  });

  it('fails at construction on bad options', () => {
    const { index } = buildPolicy({});
    expect(() => createPolicyEngine({ index, now: 5 as never })).toThrow(/now/);
    expect(() => createPolicyEngine({ index, now: () => 0, cacheSize: 0 })).toThrow(/positive integer/);
  });
});
