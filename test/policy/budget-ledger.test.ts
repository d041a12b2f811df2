import { describe, expect, it } from 'vitest';
import { createMemoryBudgetLedger, periodKey, type CompiledBudget } from '../../src/policy/index.js';
import { agent, buildPolicy, call, T0 } from './build-policy.js';

const budget = (id: string, limit: number, over: Partial<CompiledBudget> = {}): CompiledBudget => ({ id, scope: 'agent', subject: 'a', metric: 'calls', limit, period: 'day', ...over });

describe('budget ledger', () => {
  it('64 concurrent reservations against 10 remaining: exactly 10 succeed', async () => {
    const ledger = createMemoryBudgetLedger();
    const b = budget('b', 50);
    expect(ledger.reserve('earlier', [{ budget: b, amount: 40 }], T0).ok).toBe(true);
    const results = await Promise.all(
      Array.from({ length: 64 }, (_, i) => Promise.resolve().then(() => ledger.reserve(`req-${i}`, [{ budget: b, amount: 1 }], T0))),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect(ledger.spent(b, T0)).toBe(50);
  });

  it('is atomic across budgets: one short, none charged', () => {
    const ledger = createMemoryBudgetLedger();
    const roomy = budget('roomy', 100);
    const tight = budget('tight', 1);
    expect(ledger.reserve('r1', [{ budget: roomy, amount: 1 }, { budget: tight, amount: 1 }], T0).ok).toBe(true);
    expect(ledger.reserve('r2', [{ budget: roomy, amount: 1 }, { budget: tight, amount: 1 }], T0)).toMatchObject({ ok: false, budget: { id: 'tight' } });
    expect(ledger.spent(roomy, T0)).toBe(1);
  });

  it('merges charges naming one budget twice', () => {
    const ledger = createMemoryBudgetLedger();
    const b = budget('b', 1);
    expect(ledger.reserve('k', [{ budget: b, amount: 1 }, { budget: b, amount: 1 }], T0).ok).toBe(false);
    expect(ledger.reserve('k', [{ budget: b, amount: 0.5 }, { budget: b, amount: 0.5 }], T0)).toMatchObject({ ok: true, reservation: { lines: [{ amount: 1 }] } });
  });

  it('charges a retried request key once', () => {
    const ledger = createMemoryBudgetLedger();
    const b = budget('b', 5);
    const first = ledger.reserve('same', [{ budget: b, amount: 1 }], T0);
    const again = ledger.reserve('same', [{ budget: b, amount: 1 }], T0);
    expect(again).toMatchObject({ ok: true, replayed: true });
    expect(first.ok && again.ok && again.reservation).toBe(first.ok && first.reservation);
    expect(ledger.spent(b, T0)).toBe(1);
    if (first.ok) ledger.settle(first.reservation, {});
    expect(ledger.reserve('same', [{ budget: b, amount: 1 }], T0)).toMatchObject({ ok: true, replayed: true });
    expect(ledger.spent(b, T0)).toBe(1);
  });

  it('refunds a failed forward; a refunded key may be charged again', () => {
    const ledger = createMemoryBudgetLedger();
    const b = budget('b', 1);
    const r = ledger.reserve('k', [{ budget: b, amount: 1 }], T0);
    if (!r.ok) throw new Error('expected a reservation');
    expect(ledger.refund(r.reservation)).toBe(true);
    expect(ledger.refund(r.reservation)).toBe(false);
    expect(ledger.spent(b, T0)).toBe(0);
    expect(ledger.reserve('k', [{ budget: b, amount: 1 }], T0)).toMatchObject({ ok: true, replayed: false });
  });

  it('settles the actual cost after reserving the maximum', () => {
    const ledger = createMemoryBudgetLedger();
    const tokens = budget('t', 1000, { metric: 'tokens' });
    const r = ledger.reserve('k', [{ budget: tokens, amount: 800 }], T0);
    if (!r.ok) throw new Error('expected a reservation');
    expect(ledger.reserve('k2', [{ budget: tokens, amount: 300 }], T0).ok).toBe(false);
    expect(ledger.settle(r.reservation, { tokens: 120 })).toEqual({ settled: true, unbilled: 0 });
    expect(ledger.spent(tokens, T0)).toBe(120);
    expect(ledger.settle(r.reservation, { tokens: 1 })).toEqual({ settled: false, unbilled: 0 });
  });

  it('never passes the limit when the actual exceeds the reservation', () => {
    const ledger = createMemoryBudgetLedger();
    const cost = budget('c', 10, { metric: 'cost' });
    const r = ledger.reserve('k', [{ budget: cost, amount: 4 }], T0);
    ledger.reserve('k2', [{ budget: cost, amount: 4 }], T0);
    if (!r.ok) throw new Error('expected a reservation');
    expect(ledger.settle(r.reservation, { cost: 9 })).toEqual({ settled: true, unbilled: 3 });
    expect(ledger.spent(cost, T0)).toBe(10);
  });

  it('refuses a zero-amount reservation once the budget is spent', () => {
    const ledger = createMemoryBudgetLedger();
    const tokens = budget('t', 10, { metric: 'tokens' });
    ledger.reserve('k', [{ budget: tokens, amount: 10 }], T0);
    expect(ledger.reserve('k2', [{ budget: tokens, amount: 0 }], T0).ok).toBe(false);
  });

  it.each([
    ['hour', 3_600_000],
    ['day', 86_400_000],
    ['month', 31 * 86_400_000],
  ] as const)('rolls a %s budget over by itself', (period, later) => {
    const ledger = createMemoryBudgetLedger();
    const b = budget('b', 1, { period });
    expect(ledger.reserve('k1', [{ budget: b, amount: 1 }], T0).ok).toBe(true);
    expect(ledger.reserve('k2', [{ budget: b, amount: 1 }], T0).ok).toBe(false);
    expect(ledger.reserve('k3', [{ budget: b, amount: 1 }], T0 + later).ok).toBe(true);
  });

  it('a total budget never rolls over', () => {
    const ledger = createMemoryBudgetLedger();
    const b = budget('b', 1, { period: 'total' });
    ledger.reserve('k1', [{ budget: b, amount: 1 }], T0);
    expect(ledger.reserve('k2', [{ budget: b, amount: 1 }], T0 + 10 * 365 * 86_400_000).ok).toBe(false);
  });

  it('computes calendar periods in UTC', () => {
    expect(periodKey('month', Date.UTC(2025, 0, 31, 23, 59))).not.toBe(periodKey('month', Date.UTC(2025, 1, 1)));
    expect(periodKey('day', Date.UTC(2025, 0, 31, 0, 0))).toBe(periodKey('day', Date.UTC(2025, 0, 31, 23, 59)));
  });

  it('rejects a negative or non-finite charge as a bug', () => {
    const ledger = createMemoryBudgetLedger();
    expect(() => ledger.reserve('k', [{ budget: budget('b', 1), amount: -1 }], T0)).toThrow(RangeError);
    expect(() => ledger.reserve('k', [{ budget: budget('b', 1), amount: Number.NaN }], T0)).toThrow(RangeError);
  });
});

describe('budgets through decide', () => {
  const HOUR = 3_600_000;
  const chainSpec = (budgets: Parameters<typeof buildPolicy>[0]['budgets']) =>
    buildPolicy({
      agents: [agent('A', { ownerUser: 'u1', tenant: 't1' }), agent('B', { type: 'delegated', ownerUser: 'u2', tenant: 't1' }), agent('C', { type: 'delegated', ownerUser: 'u3', tenant: 't1' })],
      grants: { A: [{ id: 'ga', resource: 'mcp:**', actions: ['call'] }] },
      delegations: ['B', 'C'].map((child) => ({ id: `d-${child}`, parentAgentId: 'A', childAgentId: child, maxDepth: 1, startsAt: T0 - HOUR, expiresAt: T0 + HOUR, permissions: [{ id: `g-${child}`, resource: 'mcp:**', actions: ['call'] }] })),
      budgets,
    });

  it('siblings together cannot overspend their parent’s budget', () => {
    const { engine } = chainSpec([{ id: 'ba', scope: 'agent', subject: 'A', metric: 'calls', limit: 3, period: 'day' }]);
    const who = ['B', 'C', 'B', 'C', 'A'];
    expect(who.map((id, i) => engine.decide(call(id, 's', 't', { requestKey: `r${i}` })).allow)).toEqual([true, true, true, false, false]);
    expect(engine.decide(call('C', 's', 't', { requestKey: 'r9' }))).toMatchObject({ code: 'budget_exhausted', reason: expect.stringContaining('calls budget of agent A is exhausted (3 of 3 used this day)') });
  });

  it.each([
    ['user', 'u2'],
    ['tenant', 't1'],
  ] as const)('charges the %s budget', (scope, subject) => {
    const { engine } = chainSpec([{ id: 'b', scope, subject, metric: 'calls', limit: 1, period: 'hour' }]);
    expect(engine.decide(call('B', 's', 't', { requestKey: '1' })).allow).toBe(true);
    expect(engine.decide(call('B', 's', 't', { requestKey: '2' }))).toMatchObject({ code: 'budget_exhausted' });
  });

  it('reserves the estimate and lets the gateway settle the real amount', () => {
    const { engine, ledger, index } = chainSpec([{ id: 'tok', scope: 'agent', subject: 'B', metric: 'tokens', limit: 1000, period: 'day' }]);
    const d = engine.decide(call('B', 's', 't', { requestKey: 'k', estimate: { tokens: 900 } }));
    expect(d).toMatchObject({ allow: true, reservation: { lines: [{ budgetId: 'tok', amount: 900 }] } });
    expect(engine.decide(call('B', 's', 't', { requestKey: 'k2', estimate: { tokens: 200 } }))).toMatchObject({ code: 'budget_exhausted' });
    if (d.allow && d.reservation) ledger.settle(d.reservation, { tokens: 50 });
    expect(ledger.spent(index.budgetsFor('agent', 'B')[0], T0)).toBe(50);
    expect(engine.decide(call('B', 's', 't', { requestKey: 'k2', estimate: { tokens: 200 } })).allow).toBe(true);
  });

  it('a denied call spends nothing, a retried request key is charged once', () => {
    const { engine, ledger, index } = chainSpec([{ id: 'ba', scope: 'agent', subject: 'A', metric: 'calls', limit: 2, period: 'day' }]);
    expect(engine.decide(call('B', 'bad:server', 't', { requestKey: 'x' })).allow).toBe(false);
    expect(engine.decide(call('B', 's', 't', { requestKey: 'same' })).allow).toBe(true);
    expect(engine.decide(call('B', 's', 't', { requestKey: 'same' })).allow).toBe(true);
    expect(ledger.spent(index.budgetsFor('agent', 'A')[0], T0)).toBe(1);
  });

  it('enforces nothing without a ledger', async () => {
    const { index } = chainSpec([{ id: 'ba', scope: 'agent', subject: 'A', metric: 'calls', limit: 0, period: 'day' }]);
    const { createPolicyEngine } = await import('../../src/policy/index.js');
    const engine = createPolicyEngine({ index, now: () => T0 });
    expect(engine.decide(call('A', 's', 't'))).toMatchObject({ allow: true, reservation: null });
  });
});
