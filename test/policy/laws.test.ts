import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chainWindow,
  createMemoryBudgetLedger,
  validateDelegation,
  type CompiledBudget,
  type DelegationInput,
  type PermissionInput,
  type Reservation,
} from '../../src/policy/index.js';
import { agent, buildPolicy, T0 } from './build-policy.js';

/**
 * Property tests for the laws the engine promises, over a small universe (2 servers × 3 tools,
 * 2 actions, a few argument values and addresses) so random grants overlap often.
 */

const HOUR = 3_600_000;
const SERVERS = ['s1', 's2'];
const TOOLS = ['t1', 't2', 't3'];
const IPS = ['10.1.1.1', '192.168.1.1', '8.8.8.8'];

const patternArb = fc
  .tuple(fc.constantFrom('s1', 's2', '*', '**'), fc.constantFrom('t1', 't2', '*', '**'))
  .map(([s, t]) => (s === '**' ? 'mcp:**' : `mcp:${s}:${t}`));

const someConstraintsArb = fc.record(
  {
    args: fc.constantFrom(1, 2).map((v) => ({ '/x': { equals: v } })),
    requireApproval: fc.constant(true),
    ipAllowlist: fc.constantFrom<string[]>(['10.0.0.0/8'], ['192.168.0.0/16'], ['10.0.0.0/8', '192.168.0.0/16']),
    expiresAt: fc.constantFrom(T0 - 1, T0 + HOUR),
    maxCallsPerHour: fc.integer({ min: 1, max: 3 }),
  },
  { requiredKeys: [] },
);
// Mostly unconstrained grants, so that random chains allow something often enough to test.
const constraintsArb: fc.Arbitrary<NonNullable<PermissionInput['constraints']>> = fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 2, arbitrary: someConstraintsArb });

let grantSeq = 0;
const grantArb: fc.Arbitrary<PermissionInput> = fc
  .record({
    resource: patternArb,
    actions: fc.subarray(['call', 'read'] as ('call' | 'read')[], { minLength: 1 }),
    deny: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    constraints: constraintsArb,
  })
  .map(({ resource, actions, deny, constraints }) => ({
    id: `g${grantSeq++}`,
    resource,
    actions,
    // a deny is unconditional (only expiry) and rarer than allows
    ...(deny && resource !== 'mcp:**' ? { effect: 'deny' as const, constraints: {} } : { constraints }),
  }));

const callArb = fc.record({
  action: fc.constantFrom('call' as const, 'read' as const),
  server: fc.constantFrom(...SERVERS),
  tool: fc.constantFrom(...TOOLS),
  args: fc.record({ x: fc.constantFrom(1, 2, 3) }),
  ip: fc.constantFrom(...IPS),
});

const linkArb = fc.record({
  grants: fc.array(grantArb, { minLength: 1, maxLength: 4 }),
  maxDepth: fc.oneof({ weight: 4, arbitrary: fc.constant(3) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 }) }),
  // Mostly live at T0, sometimes not yet or no longer.
  startsAt: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: -3, max: 0 }) }, { weight: 1, arbitrary: fc.constant(1) }).map((h) => T0 + h * HOUR),
  expiresAt: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constant(0) }).map((h) => T0 + h * HOUR),
});

/** Agents a0 (root) … aN, link i from a(i) to a(i+1), rows stored without validation. */
type LinkSpec = { grants: PermissionInput[]; maxDepth: number; startsAt: number; expiresAt: number };
function chainPolicy(rootGrants: PermissionInput[], links: LinkSpec[]) {
  const ids = links.map((_, i) => `a${i + 1}`);
  const delegations: DelegationInput[] = links.map((l, i) => ({
    id: `d${i}`,
    parentAgentId: `a${i}`,
    childAgentId: ids[i],
    maxDepth: l.maxDepth,
    startsAt: l.startsAt,
    expiresAt: l.expiresAt,
    permissions: l.grants,
  }));
  return buildPolicy({ agents: [agent('a0'), ...ids.map((id) => agent(id, { type: 'delegated' }))], grants: { a0: rootGrants }, delegations });
}

describe('laws', () => {
  it('a delegation only narrows: whatever a child may do, its parent may do', () => {
    let exercised = 0; // calls some delegated agent was allowed: the law is not vacuous
    fc.assert(
      fc.property(fc.array(grantArb, { maxLength: 6 }), fc.array(linkArb, { minLength: 1, maxLength: 3 }), fc.array(callArb, { minLength: 1, maxLength: 8 }), (rootGrants, links, calls) => {
        const { engine } = chainPolicy(rootGrants, links);
        for (const c of calls) {
          // explain decides exactly like decide but spends nothing, so the runs do not interfere.
          const allowed = [0, ...links.map((_, i) => i + 1)].map((k) => engine.explain({ agentId: `a${k}`, ...c }).decision.allow);
          if (allowed.slice(1).some(Boolean)) exercised++;
          for (let k = 1; k < allowed.length; k++) if (allowed[k]) expect(allowed[k - 1], `a${k} allowed but a${k - 1} not: ${JSON.stringify(c)}`).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
    expect(exercised).toBeGreaterThan(20);
  });

  it('an accepted delegation holds nothing the parent lacks, by the same matcher that decides calls', () => {
    fc.assert(
      fc.property(fc.array(grantArb, { maxLength: 6 }), fc.array(grantArb, { minLength: 1, maxLength: 3 }), (rootGrants, childGrants) => {
        const { engine, index } = chainPolicy(rootGrants, []);
        index.putAgent(agent('kid', { type: 'delegated' }));
        const input: DelegationInput = { id: 'new', parentAgentId: 'a0', childAgentId: 'kid', maxDepth: 1, expiresAt: T0 + HOUR, permissions: childGrants };
        const r = validateDelegation(input, index, T0);
        if (!r.ok) return;
        index.putDelegation(r.delegation);
        for (const action of ['call', 'read'] as const)
          for (const server of SERVERS)
            for (const tool of TOOLS) {
              const kid = engine.explain({ agentId: 'kid', action, server, tool }).hops;
              const parentHop = engine.explain({ agentId: 'a0', action, server, tool }).hops[0];
              // Every delegated allow that matches this call is backed by a live parent allow.
              if (kid[1]?.allows.length) expect(parentHop.allows.length).toBeGreaterThan(0);
            }
      }),
      { numRuns: 300 },
    );
  });

  it('a chain is valid exactly in [latest start, earliest expiry)', () => {
    fc.assert(
      fc.property(fc.array(linkArb, { minLength: 1, maxLength: 4 }), fc.integer({ min: -4, max: 5 }), fc.integer({ min: -2, max: 2 }), (links, hours, offset) => {
        const permissive = links.map((l) => ({ ...l, maxDepth: 4, grants: [{ id: `p${grantSeq++}`, resource: 'mcp:**', actions: ['call' as const] }] }));
        const { engine, clock } = chainPolicy([{ id: 'root', resource: 'mcp:**', actions: ['call'] }], permissive);
        const window = chainWindow(permissive);
        expect(window.notBefore).toBe(Math.max(...permissive.map((l) => l.startsAt)));
        expect(window.notAfter).toBe(Math.min(...permissive.map((l) => l.expiresAt)));
        for (const t of [T0 + hours * HOUR + offset, window.notBefore + offset, window.notAfter + offset]) {
          clock.now = t;
          const d = engine.decide({ agentId: `a${permissive.length}`, action: 'call', server: 's1', tool: 't1' });
          expect(d.allow).toBe(t >= window.notBefore && t < window.notAfter);
          if (!d.allow) expect(d.code).toBe('delegation_expired');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('spent never exceeds the limit, whatever the interleaving of reserve, refund and settle', () => {
    const budgets: CompiledBudget[] = [
      { id: 'calls', scope: 'agent', subject: 'a', metric: 'calls', limit: 5, period: 'hour' },
      { id: 'tokens', scope: 'user', subject: 'u', metric: 'tokens', limit: 100, period: 'day' },
      { id: 'cost', scope: 'tenant', subject: 't', metric: 'cost', limit: 2.5, period: 'total' },
    ];
    const op = fc.oneof(
      fc.record({ kind: fc.constant('reserve' as const), key: fc.integer({ min: 0, max: 20 }), which: fc.subarray([0, 1, 2], { minLength: 1 }), amount: fc.double({ min: 0, max: 60, noNaN: true }) }),
      fc.record({ kind: fc.constant('refund' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('settle' as const), pick: fc.nat(), actual: fc.double({ min: 0, max: 120, noNaN: true }) }),
      fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 2 * HOUR }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const ledger = createMemoryBudgetLedger();
        let now = T0;
        const held: Reservation[] = [];
        for (const o of ops) {
          if (o.kind === 'reserve') {
            const charges = o.which.map((i) => ({ budget: budgets[i], amount: budgets[i].metric === 'calls' ? 1 : o.amount }));
            const r = ledger.reserve(`k${o.key}`, charges, now);
            if (r.ok && !r.replayed) held.push(r.reservation);
          } else if (o.kind === 'refund' && held.length > 0) {
            expect(ledger.refund(held.splice(o.pick % held.length, 1)[0])).toBe(true);
          } else if (o.kind === 'settle' && held.length > 0) {
            const r = held.splice(o.pick % held.length, 1)[0];
            expect(ledger.settle(r, { tokens: o.actual, cost: o.actual / 40 }).settled).toBe(true);
          } else if (o.kind === 'wait') {
            now += o.ms;
          }
          for (const b of budgets) {
            const spent = ledger.spent(b, now);
            expect(spent).toBeGreaterThanOrEqual(0);
            expect(spent).toBeLessThanOrEqual(b.limit);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
