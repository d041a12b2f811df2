import { describe, expect, it } from 'vitest';
import { compileDelegation, validateDelegation, type DelegationInput, type PermissionInput } from '../../src/policy/index.js';
import { agent, buildPolicy, call, T0 } from './build-policy.js';

const HOUR = 3_600_000;
const p = (id: string, resource: string, constraints: PermissionInput['constraints'] = {}, actions: PermissionInput['actions'] = ['call']): PermissionInput => ({ id, resource, actions, constraints });
const link = (id: string, parent: string, child: string, permissions: PermissionInput[], over: Partial<DelegationInput> = {}): DelegationInput => ({
  id,
  parentAgentId: parent,
  childAgentId: child,
  maxDepth: 3,
  startsAt: T0 - HOUR,
  expiresAt: T0 + 24 * HOUR,
  permissions,
  ...over,
});
const delegated = (id: string, over = {}) => agent(id, { type: 'delegated', ...over });

const githubButDelete: PermissionInput[] = [
  p('a-gh', 'mcp:github:*'),
  { id: 'a-deny', resource: 'mcp:github:delete_repo', actions: ['call'], effect: 'deny' },
];

/** Root A (interactive) with github rights; B, C, D, E delegated agents. */
function world(rootGrants: PermissionInput[] = githubButDelete, delegations: DelegationInput[] = []) {
  return buildPolicy({
    agents: [agent('A'), delegated('B'), delegated('C'), delegated('D'), delegated('E')],
    grants: { A: rootGrants },
    delegations,
  });
}

describe('validateDelegation', () => {
  it.each<[string, DelegationInput[], DelegationInput, string, string]>([
    ['self-delegation', [], link('x', 'B', 'B', [p('1', 'mcp:github:x')]), 'childAgentId', 'itself'],
    ['wider pattern (** under *)', [], link('x', 'A', 'B', [p('1', 'mcp:github:**')]), 'permissions[0].resource', 'wider'],
    ['wider pattern (other server)', [], link('x', 'A', 'B', [p('1', 'mcp:gitlab:*')]), 'permissions[0].resource', 'wider'],
    ['wider pattern (everything)', [], link('x', 'A', 'B', [p('1', 'mcp:**')]), 'permissions[0].resource', 'wider'],
    ['an action the parent lacks', [], link('x', 'A', 'B', [p('1', 'mcp:github:x', {}, ['call', 'read'])]), 'permissions[0].resource', '(read) is wider'],
    ['something the parent is denied', [], link('x', 'A', 'B', [p('1', 'mcp:github:delete_repo')]), 'permissions[0].resource', 'denied'],
    ['a non-delegated child', [], link('x', 'B', 'A', [p('1', 'mcp:github:x')]), 'childAgentId', 'only delegated agents'],
    ['a second live link into one child', [link('d1', 'A', 'B', [p('1', 'mcp:github:*')])], link('x', 'A', 'B', [p('2', 'mcp:github:x')]), 'childAgentId', 'already holds delegation d1'],
    ['a cycle back into the chain', [link('d1', 'A', 'B', [p('1', 'mcp:github:*')]), link('d2', 'B', 'C', [p('2', 'mcp:github:*')])], link('x', 'C', 'B', [p('3', 'mcp:github:x')]), 'childAgentId', 'already holds'],
    ['an expiry in the past', [], link('x', 'A', 'B', [p('1', 'mcp:github:x')], { expiresAt: T0 - 1 }), 'expiresAt', 'already be expired'],
    ['a parent without a chain', [], link('x', 'C', 'D', [p('1', 'mcp:github:x')]), 'parentAgentId', 'no delegation'],
    ['an unknown parent', [], link('x', 'Z', 'B', [p('1', 'mcp:github:x')]), 'parentAgentId', 'does not exist'],
    ['a malformed grant', [], link('x', 'A', 'B', [p('1', 'mcp:github:get_*')]), 'permissions[0].resource', 'whole segment'],
  ])('refuses %s', (_name, existing, input, path, message) => {
    const { index } = world(undefined, existing);
    const r = validateDelegation(input, index, T0);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const hit = r.errors.find((e) => e.path === path);
    expect(hit, JSON.stringify(r.errors)).toBeDefined();
    expect(hit?.message).toContain(message);
  });

  it('refuses a suspended parent', () => {
    const { index } = buildPolicy({ agents: [agent('A', { status: 'suspended' }), delegated('B')], grants: { A: [p('g', 'mcp:**')] } });
    expect(validateDelegation(link('x', 'A', 'B', [p('1', 'mcp:github:x')]), index, T0)).toMatchObject({ ok: false });
  });

  it('accepts a subset, narrower at every hop', () => {
    const { index } = world(undefined, [link('d1', 'A', 'B', [p('1', 'mcp:github:*')])]);
    const r = validateDelegation(link('x', 'B', 'C', [p('2', 'mcp:github:create_issue', { args: { '/repo': { equals: 'r' } } })]), index, T0);
    expect(r).toMatchObject({ ok: true, clamped: false });
  });

  it('takes maxDepth from the root: a deeper link cannot raise it', () => {
    const chain = [link('d1', 'A', 'B', [p('1', 'mcp:github:*')], { maxDepth: 2 }), link('d2', 'B', 'C', [p('2', 'mcp:github:*')], { maxDepth: 9 })];
    const { index } = world(undefined, chain);
    const r = validateDelegation(link('x', 'C', 'D', [p('3', 'mcp:github:x')], { maxDepth: 9 }), index, T0);
    expect(r).toMatchObject({ ok: false, errors: [{ path: 'maxDepth', message: expect.stringContaining('allows 2 link(s); this would be link 3') }] });
  });

  it('a root maxDepth of 1 forbids re-delegation', () => {
    const { index } = world(undefined, [link('d1', 'A', 'B', [p('1', 'mcp:github:*')], { maxDepth: 1 })]);
    expect(validateDelegation(link('x', 'B', 'C', [p('2', 'mcp:github:x')]), index, T0)).toMatchObject({ ok: false });
  });

  it('clamps the child to expire no later than its parent, and to start no earlier', () => {
    const { index } = world(undefined, [link('d1', 'A', 'B', [p('1', 'mcp:github:*')], { startsAt: T0 - 10, expiresAt: T0 + HOUR })]);
    const r = validateDelegation(link('x', 'B', 'C', [p('2', 'mcp:github:x')], { startsAt: T0 - HOUR, expiresAt: T0 + 10 * HOUR }), index, T0);
    expect(r).toMatchObject({ ok: true, clamped: true, row: { startsAt: T0 - 10, expiresAt: T0 + HOUR } });
  });

  it('clamps to the parent agent’s own expiry', () => {
    const { index } = buildPolicy({ agents: [agent('A', { expiresAt: T0 + 5 }), delegated('B')], grants: { A: [p('g', 'mcp:**')] } });
    const r = validateDelegation(link('x', 'A', 'B', [p('1', 'mcp:github:x')], { startsAt: undefined }), index, T0);
    expect(r).toMatchObject({ ok: true, row: { startsAt: T0, expiresAt: T0 + 5 } });
  });
});

describe('decide through a delegation chain', () => {
  const abc = (aGrants: PermissionInput[], bGrants: PermissionInput[], cGrants: PermissionInput[] = [p('c1', 'mcp:github:*')]) =>
    world(aGrants, [link('d1', 'A', 'B', bGrants), link('d2', 'B', 'C', cGrants)]);

  it('allows what every hop allows and reports the grant of each hop', () => {
    const { engine } = abc([p('a1', 'mcp:github:*')], [p('b1', 'mcp:github:*')]);
    expect(engine.decide(call('C', 'github', 'create_issue'))).toMatchObject({ allow: true, chain: ['A', 'B', 'C'], grantIds: ['a1', 'b1', 'c1'] });
  });

  it.each<[string, PermissionInput[], PermissionInput[], Record<string, unknown>, string]>([
    ['a wider pattern on the link (row bypassing validation)', [p('a1', 'mcp:github:create_issue')], [p('b1', 'mcp:**')], {}, 'no_permission'],
    ['a looser args constraint', [p('a1', 'mcp:github:*', { args: { '/repo': { pattern: 'acme/.*' } } })], [p('b1', 'mcp:github:*')], { args: { repo: 'evil/x' } }, 'constraint_args'],
    ['dropping requireApproval', [p('a1', 'mcp:github:*', { requireApproval: true })], [p('b1', 'mcp:github:*')], {}, 'approval_required'],
    ['a wider time window', [p('a1', 'mcp:github:*', { timeWindow: { hours: { from: '00:00', to: '01:00' } } })], [p('b1', 'mcp:github:*')], {}, 'outside_time_window'],
    ['a wider IP allowlist', [p('a1', 'mcp:github:*', { ipAllowlist: ['10.0.0.0/8'] })], [p('b1', 'mcp:github:*', { ipAllowlist: ['0.0.0.0/0'] })], { ip: '8.8.8.8' }, 'ip_not_allowed'],
    ['a later grant expiry', [p('a1', 'mcp:github:*', { expiresAt: T0 })], [p('b1', 'mcp:github:*', { expiresAt: T0 + HOUR })], {}, 'grant_expired'],
  ])('cannot escalate by %s', (_name, aGrants, bGrants, extra, code) => {
    const { engine } = abc(aGrants, bGrants);
    expect(engine.decide(call('C', 'github', 'other_tool', extra))).toMatchObject({ allow: false, code });
    expect(engine.decide(call('B', 'github', 'other_tool', extra))).toMatchObject({ allow: false, code });
  });

  it('reports the grant chosen at each hop when a narrower one fails below the root', () => {
    const { engine } = abc([p('a1', 'mcp:github:*')], [p('b-narrow', 'mcp:github:x', { requireApproval: true }), p('b-wide', 'mcp:github:*')]);
    const first = engine.decide(call('B', 'github', 'x'));
    expect(first).toMatchObject({ allow: true, grantIds: ['a1', 'b-wide'] });
    expect(engine.decide(call('B', 'github', 'y'))).toMatchObject({ allow: true, grantIds: ['a1', 'b-wide'] });
    expect(Object.isFrozen(engine.decide(call('B', 'github', 'y')))).toBe(true);
  });

  it('names the hop that narrowed the call', () => {
    const { engine } = abc([p('a1', 'mcp:github:*')], [p('b1', 'mcp:github:create_issue')]);
    expect(engine.decide(call('C', 'github', 'merge'))).toMatchObject({
      code: 'no_permission',
      reason: 'tool github.merge denied: no permission mcp:github:merge in delegation d1 (A → B)',
    });
  });

  it('counts a parent’s rate limit for all descendants together (looser child limit is inert)', () => {
    const { engine } = abc([p('a1', 'mcp:github:*', { maxCallsPerHour: 3 })], [p('b1', 'mcp:github:*', { maxCallsPerHour: 100 })]);
    const who = ['C', 'B', 'C', 'B', 'A'];
    expect(who.map((id) => engine.decide(call(id, 'github', 'x')).allow)).toEqual([true, true, true, false, false]);
  });

  it('applies a child’s stricter rate limit only below it', () => {
    const { engine } = abc([p('a1', 'mcp:github:*', { maxCallsPerHour: 100 })], [p('b1', 'mcp:github:*', { maxCallsPerHour: 1 })]);
    expect(engine.decide(call('C', 'github', 'x')).allow).toBe(true);
    expect(engine.decide(call('C', 'github', 'x'))).toMatchObject({ code: 'rate_limited' });
    expect(engine.decide(call('B', 'github', 'x'))).toMatchObject({ code: 'rate_limited' });
    expect(engine.decide(call('A', 'github', 'x')).allow).toBe(true);
  });

  it('a parent losing a permission takes it from the whole chain at the next call', () => {
    const { engine, index } = abc([p('a1', 'mcp:github:*')], [p('b1', 'mcp:github:*')]);
    expect(engine.decide(call('C', 'github', 'x')).allow).toBe(true);
    index.removePermission('a1');
    expect(engine.decide(call('C', 'github', 'x'))).toMatchObject({ code: 'no_permission' });
  });

  it.each<[string, (index: ReturnType<typeof abc>['index']) => void, string, string]>([
    ['revoking the top link', (i) => i.putDelegation(revoked('d1', 'A', 'B')), 'delegation_expired', 'delegation_expired'],
    ['revoking the lower link', (i) => i.putDelegation(revoked('d2', 'B', 'C')), 'allow', 'delegation_expired'],
    ['revoking agent B', (i) => i.putAgent(delegated('B', { status: 'revoked' })), 'agent_revoked', 'agent_revoked'],
    ['suspending root A', (i) => i.putAgent(agent('A', { status: 'suspended' })), 'agent_suspended', 'agent_suspended'],
    ['deleting agent B', (i) => i.removeAgent('B'), 'agent_revoked', 'agent_revoked'],
  ])('cascades: %s', (_name, change, forB, forC) => {
    const { engine, index } = abc([p('a1', 'mcp:github:*')], [p('b1', 'mcp:github:*')]);
    expect(engine.decide(call('C', 'github', 'x')).allow).toBe(true);
    change(index);
    const b = engine.decide(call('B', 'github', 'x'));
    expect(b.allow ? 'allow' : b.code).toBe(forB);
    expect(engine.decide(call('C', 'github', 'x'))).toMatchObject({ allow: false, code: forC });
  });

  it('holds a chain to [latest start, earliest expiry], even for rows saved without clamping', () => {
    const { engine, clock } = world(
      [p('a1', 'mcp:github:*')],
      [link('d1', 'A', 'B', [p('b1', 'mcp:github:*')], { startsAt: T0, expiresAt: T0 + HOUR }), link('d2', 'B', 'C', [p('c1', 'mcp:github:*')], { startsAt: T0 + 10, expiresAt: T0 + 10 * HOUR })],
    );
    const at = (t: number) => ((clock.now = t), engine.decide(call('C', 'github', 'x')));
    expect(at(T0 + 9)).toMatchObject({ code: 'delegation_expired', reason: expect.stringContaining('not valid yet') });
    expect(at(T0 + 10).allow).toBe(true);
    expect(at(T0 + HOUR - 1).allow).toBe(true);
    expect(at(T0 + HOUR)).toMatchObject({ code: 'delegation_expired', reason: expect.stringContaining('has expired') });
  });

  it('enforces the root maxDepth at call time too', () => {
    const { engine } = world([p('a1', 'mcp:github:*')], [link('d1', 'A', 'B', [p('b1', 'mcp:github:*')], { maxDepth: 1 }), link('d2', 'B', 'C', [p('c1', 'mcp:github:*')], { maxDepth: 5 })]);
    expect(engine.decide(call('B', 'github', 'x')).allow).toBe(true);
    expect(engine.decide(call('C', 'github', 'x'))).toMatchObject({ code: 'delegation_expired', reason: expect.stringContaining('maxDepth 1') });
  });

  it('fails closed on a cycle in stored rows', () => {
    const { engine } = world([], [link('d1', 'B', 'C', [p('1', 'mcp:**')]), link('d2', 'C', 'B', [p('2', 'mcp:**')])]);
    expect(engine.decide(call('C', 'github', 'x'))).toMatchObject({ code: 'delegation_expired', reason: expect.stringContaining('cycle') });
  });

  it('fails closed on two live links into one agent', () => {
    const { engine } = world([p('a1', 'mcp:**')], [link('d1', 'A', 'B', [p('1', 'mcp:**')]), link('d2', 'A', 'B', [p('2', 'mcp:**')])]);
    expect(engine.decide(call('B', 'github', 'x'))).toMatchObject({ code: 'delegation_expired', reason: expect.stringContaining('ambiguous') });
  });

  it('a delegated agent without a delegation has nothing', () => {
    const { engine } = world([p('a1', 'mcp:**')]);
    expect(engine.decide(call('D', 'github', 'x'))).toMatchObject({ code: 'no_permission' });
  });
});

function revoked(id: string, parent: string, child: string) {
  const r = compileDelegation(link(id, parent, child, [p(`${id}-g`, 'mcp:github:*')], { revokedAt: T0 - 1 }));
  if (!r.ok) throw new Error('bad link');
  return r.compiled;
}
