import { describe, expect, it } from 'vitest';
import { createPolicyEngine, createPolicyIndex, loadPolicyIndex, policyAgentFromRow } from '../../src/policy/index.js';
import { agent, call, grant, T0 } from './build-policy.js';

describe('policy index', () => {
  it('bumps the version on every change', () => {
    const index = createPolicyIndex();
    const versions = [index.version];
    index.putAgent(agent('a'));
    versions.push(index.version);
    index.putPermission('a', grant({ id: 'g', resource: 'mcp:**', actions: ['call'] }));
    versions.push(index.version);
    index.removePermission('g');
    versions.push(index.version);
    index.removeAgent('a');
    versions.push(index.version);
    expect(new Set(versions).size).toBe(versions.length);
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
  });

  it('moves a grant saved under another agent', () => {
    const index = createPolicyIndex();
    index.putPermission('a', grant({ id: 'g', resource: 'mcp:**', actions: ['call'] }));
    index.putPermission('b', grant({ id: 'g', resource: 'mcp:**', actions: ['call'] }));
    expect(index.grantsOf('a').size).toBe(0);
    expect(index.grantsOf('b').size).toBe(1);
    expect(index.counts().permissions).toBe(1);
  });

  it('maps store agent rows (userId becomes ownerUser)', () => {
    expect(policyAgentFromRow({ id: 'a', userId: 'u', tenant: null, name: 'n', type: 'autonomous', status: 'active', expiresAt: null })).toEqual({
      id: 'a',
      ownerUser: 'u',
      tenant: null,
      name: 'n',
      type: 'autonomous',
      status: 'active',
      expiresAt: null,
    });
  });

  it('loads rows, reports the ones that do not compile and leaves them out', () => {
    const { index, errors } = loadPolicyIndex({
      agents: [agent('a'), agent('b', { type: 'delegated' })],
      permissions: [
        { agentId: 'a', id: 'ok', resource: 'mcp:github:*', actions: ['call'] },
        { agentId: 'a', id: 'bad', resource: 'mcp:github:*', actions: ['call'], constraints: { args: { '/x': { pattern: '(a)\\1' } } } },
      ],
      delegations: [{ id: 'd-bad', parentAgentId: 'a', childAgentId: 'b', maxDepth: 0, expiresAt: T0, permissions: [] }],
      budgets: [{ id: 'b-bad', scope: 'planet', subject: 'x', metric: 'calls', limit: 1, period: 'day' }],
    });
    expect(errors.map((e) => [e.kind, e.id])).toEqual([
      ['permission', 'bad'],
      ['delegation', 'd-bad'],
      ['budget', 'b-bad'],
    ]);
    expect(index.counts()).toEqual({ agents: 2, permissions: 1, delegations: 0, budgets: 0 });
    const engine = createPolicyEngine({ index, now: () => T0 });
    expect(engine.decide(call('a', 'github', 'x'))).toMatchObject({ allow: true, grantIds: ['ok'] });
    // The delegation that failed to load grants nothing: fail closed.
    expect(engine.decide(call('b', 'github', 'x'))).toMatchObject({ allow: false, code: 'no_permission' });
  });

  it('replaces and removes budgets and delegations by id', () => {
    const { index } = loadPolicyIndex({
      agents: [agent('a')],
      permissions: [],
      delegations: [],
      budgets: [
        { id: 'b1', scope: 'agent', subject: 'a', metric: 'calls', limit: 1, period: 'day' },
        { id: 'b2', scope: 'agent', subject: 'a', metric: 'tokens', limit: 1, period: 'day' },
      ],
    });
    expect(index.budgetsFor('agent', 'a').map((b) => b.id)).toEqual(['b1', 'b2']);
    index.removeBudget('b1');
    expect(index.budgetsFor('agent', 'a').map((b) => b.id)).toEqual(['b2']);
    index.removeBudget('b2');
    expect(index.budgetsFor('agent', 'a')).toEqual([]);
  });
});
