import { describe, expect, it } from 'vitest';
import type { PermissionInput } from '../../src/policy/index.js';
import { agent, buildPolicy, call, T0 } from './build-policy.js';

const HOUR = 3_600_000;
const p = (id: string, resource: string, constraints: PermissionInput['constraints'] = {}): PermissionInput => ({ id, resource, actions: ['call'], constraints });

function chain() {
  return buildPolicy({
    agents: [agent('A'), agent('B', { type: 'delegated' })],
    grants: { A: [p('a-exact', 'mcp:github:create_issue', { args: { '/repo': { equals: 'acme/web' } } }), p('a-wide', 'mcp:github:*', { maxCallsPerHour: 1 })] },
    delegations: [{ id: 'd1', parentAgentId: 'A', childAgentId: 'B', maxDepth: 1, startsAt: T0 - HOUR, expiresAt: T0 + HOUR, permissions: [p('b1', 'mcp:github:create_issue', { requireApproval: true }), p('b2', 'mcp:github:*')] }],
    budgets: [{ id: 'bud', scope: 'agent', subject: 'A', metric: 'calls', limit: 5, period: 'day' }],
  });
}

describe('explain', () => {
  it('shows every hop, which grants matched and which one was chosen', () => {
    const { engine } = chain();
    const e = engine.explain(call('B', 'github', 'create_issue', { args: { repo: 'other/x' } }));
    expect(e.decision).toMatchObject({ allow: true, grantIds: ['a-wide', 'b2'], reservation: null });
    expect(e.chain).toMatchObject({ links: [{ id: 'd1' }], notBefore: T0 - HOUR, notAfter: T0 + HOUR, depthLimit: 1 });
    expect(e.hops).toEqual([
      {
        hop: 0,
        owner: 'agent A',
        allows: ['a-exact', 'a-wide'],
        denies: [],
        verdicts: [
          { hop: 0, grantId: 'a-exact', resource: 'mcp:github:create_issue', outcome: 'constraint_args', detail: 'argument /repo is not the allowed value (mcp:github:create_issue)' },
          { hop: 0, grantId: 'a-wide', resource: 'mcp:github:*', outcome: 'chosen', detail: null },
        ],
      },
      {
        hop: 1,
        owner: 'delegation d1 (A → B)',
        allows: ['b1', 'b2'],
        denies: [],
        verdicts: [
          { hop: 1, grantId: 'b1', resource: 'mcp:github:create_issue', outcome: 'approval_required', detail: 'mcp:github:create_issue requires approval' },
          { hop: 1, grantId: 'b2', resource: 'mcp:github:*', outcome: 'chosen', detail: null },
        ],
      },
    ]);
    expect(e.budgets).toMatchObject([{ budget: { id: 'bud' }, spent: 0 }]);
  });

  it('spends nothing', () => {
    const { engine } = chain();
    for (let i = 0; i < 3; i++) expect(engine.explain(call('B', 'github', 'x')).decision.allow).toBe(true);
    expect(engine.decide(call('B', 'github', 'x')).allow).toBe(true); // the 1/h limit was still free
    expect(engine.explain(call('B', 'github', 'x')).decision).toMatchObject({ code: 'rate_limited' });
  });

  it('agrees with decide on a denial, and names the failing hop', () => {
    const { engine } = chain();
    const e = engine.explain(call('B', 'slack', 'post'));
    expect(e.decision).toEqual(engine.decide(call('B', 'slack', 'post')));
    expect(e.hops.map((h) => h.allows)).toEqual([[], []]);
  });

  it('agrees with decide when a budget is exhausted', () => {
    const { engine } = chain();
    const args = { repo: 'acme/web' }; // matches a-exact, which has no rate limit
    for (let i = 0; i < 5; i++) expect(engine.decide(call('B', 'github', 'create_issue', { args, requestKey: `k${i}` })).allow).toBe(true);
    const e = engine.explain(call('B', 'github', 'create_issue', { args }));
    expect(e.decision).toEqual(engine.decide(call('B', 'github', 'create_issue', { args, requestKey: 'k9' })));
    expect(e.decision).toMatchObject({ code: 'budget_exhausted', reason: 'tool github.create_issue denied: calls budget of agent A is exhausted (5 of 5 used this day)' });
    expect(e.budgets).toMatchObject([{ budget: { id: 'bud' }, spent: 5 }]);
  });

  it('shows agents as they are now', () => {
    const { engine, index } = chain();
    index.putAgent(agent('A', { status: 'suspended' }));
    const e = engine.explain(call('B', 'github', 'x'));
    expect(e.decision).toMatchObject({ code: 'agent_suspended', reason: 'tool github.x denied: delegating agent A is suspended' });
    expect(e.agents.map((a) => ('status' in a ? a.status : 'missing'))).toEqual(['suspended', 'active']);
  });
});

describe('listCallableTools', () => {
  it('keeps the tools some grant allows at every hop and no deny refuses', () => {
    const { engine } = buildPolicy({
      agents: [agent('A'), agent('B', { type: 'delegated' })],
      grants: {
        A: [
          p('a1', 'mcp:github:*', { args: { '/repo': { equals: 'x' } } }),
          { id: 'a2', resource: 'mcp:github:delete_repo', actions: ['call'], effect: 'deny' },
          p('a3', 'mcp:github:old_tool', { expiresAt: T0 }),
          { id: 'a4', resource: 'mcp:github:read_only', actions: ['read'] },
        ],
      },
      delegations: [{ id: 'd1', parentAgentId: 'A', childAgentId: 'B', maxDepth: 1, startsAt: T0 - HOUR, expiresAt: T0 + HOUR, permissions: [p('b1', 'mcp:github:create_issue'), p('b2', 'mcp:github:delete_repo')] }],
    });
    const tools = ['create_issue', 'delete_repo', 'merge', 'read_only'];
    expect(engine.listCallableTools('A', 'github', tools)).toEqual(['create_issue', 'merge', 'read_only']);
    expect(engine.listCallableTools('B', 'github', tools)).toEqual(['create_issue']);
    expect(engine.listCallableTools('B', 'gitlab', tools)).toEqual([]);
  });

  it('lists nothing for a suspended agent or an expired chain', () => {
    const { engine, index, clock } = buildPolicy({
      agents: [agent('A'), agent('B', { type: 'delegated' })],
      grants: { A: [p('a1', 'mcp:**')] },
      delegations: [{ id: 'd1', parentAgentId: 'A', childAgentId: 'B', maxDepth: 1, startsAt: T0 - HOUR, expiresAt: T0 + HOUR, permissions: [p('b1', 'mcp:**')] }],
    });
    expect(engine.listCallableTools('B', 's', ['t'])).toEqual(['t']);
    clock.now = T0 + HOUR;
    expect(engine.listCallableTools('B', 's', ['t'])).toEqual([]);
    clock.now = T0;
    index.putAgent(agent('A', { status: 'suspended' }));
    expect(engine.listCallableTools('B', 's', ['t'])).toEqual([]);
  });
});
