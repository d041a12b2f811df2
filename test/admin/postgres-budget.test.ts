/**
 * Budgets exact across gateway instances on one Postgres: two policy stacks (two stores, two
 * engines, two leased ledgers) on one fresh database spend one budget, and together never pass it.
 */
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPolicy, type PolicyRuntime } from '../../src/admin/start-policy.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { decideAfterRefill } from '../../src/gateway/call-gate.js';
import type { Decision, PolicyEngine, PolicyRequest } from '../../src/policy/index.js';
import { openPostgresStore } from '../../src/store/postgres/store.js';
import type { Store } from '../../src/store/store.js';
import { freshPostgresDatabase, PG_URL, type TestDatabase } from '../helpers/database.js';
import { T0 } from './harness.js';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const config = parseConfig({
  agents: { declared: { agents: [{ id: 'ci', name: 'CI' }], permissions: [{ id: 'ci-all', agentId: 'ci', resource: 'mcp:**' }] } },
});

let db: TestDatabase;
const stores: Store[] = [];
const runtimes: PolicyRuntime[] = [];
const clock = { now: T0 };

/** Exact takes (`leaseAhead: 0`) unless a test asks for the default lease-ahead. */
async function instance(idleMs = 50, leaseAhead: number | undefined = 0): Promise<PolicyRuntime> {
  const store = await openPostgresStore({ url: db.url });
  stores.push(store);
  const runtime = await startPolicy({ store, config, now: () => clock.now, logger: silent, env: {}, pollMs: 50, leases: { idleMs, leaseAhead } });
  runtimes.push(runtime);
  return runtime;
}

/** What the call gate does: decide, and while the local block is short and the store had room, refill and decide again. */
async function decide(engine: PolicyEngine, request: PolicyRequest): Promise<Decision> {
  const first = engine.decide(request);
  return !first.allow && first.code === 'budget_exhausted' ? decideAfterRefill(engine, request, first) : first;
}

const call = (requestKey: string, estimate?: PolicyRequest['estimate']): PolicyRequest => ({ agentId: 'ci', action: 'call', server: 'docs', tool: 'search', requestKey, estimate });

/** Until `engine` knows budget `id` (set on the other instance). */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function usedInStore(budgetId: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query('select used from budget_usage where budget_id = $1 order by period_start', [budgetId]);
    return rows.map((r: { used: number }) => Number(r.used));
  } finally {
    await client.end();
  }
}

async function closeAll(): Promise<void> {
  for (const r of runtimes.splice(0)) await r.close();
  for (const s of stores.splice(0)) await s.close();
}

describe.skipIf(!PG_URL)('budgets on Postgres across two instances', () => {
  beforeEach(async () => {
    clock.now = T0;
    db = await freshPostgresDatabase();
  });
  afterEach(async () => {
    await closeAll();
    await db.drop();
  });

  it.each([0, undefined])('64 concurrent calls against a budget of 10 split across two instances: exactly 10 granted (leaseAhead %s)', async (leaseAhead) => {
    const a = await instance(50, leaseAhead);
    const b = await instance(50, leaseAhead);
    await a.admin.setBudget({ id: 'b', scope: 'agent', subject: 'ci', metric: 'calls', limit: 10, period: 'day' });
    await until(() => b.engine.index.budgetsFor('agent', 'ci').length === 1);

    const decisions = await Promise.all(Array.from({ length: 64 }, (_, i) => decide(i % 2 === 0 ? a.engine : b.engine, call(`k${i}`))));
    const granted = decisions.filter((d) => d.allow);
    expect(granted).toHaveLength(10);
    for (const d of decisions) if (!d.allow) expect(d.code).toBe('budget_exhausted');
    expect(await usedInStore('b')).toEqual([10]);

    // Settled calls stay charged through close (unspent blocks, here none, go back).
    decisions.forEach((d, i) => {
      if (d.allow && d.reservation) (i % 2 === 0 ? a : b).engine.ledger!.settle(d.reservation, {});
    });
    await closeAll();
    expect(await usedInStore('b')).toEqual([10]);
  });

  it('a refund frees room that another instance gets once the first is idle; a retried request is charged once', async () => {
    const a = await instance(50);
    const b = await instance(50);
    await a.admin.setBudget({ id: 'b', scope: 'agent', subject: 'ci', metric: 'calls', limit: 5, period: 'day' });
    await until(() => b.engine.index.budgetsFor('agent', 'ci').length === 1);

    const onA = await Promise.all(['a1', 'a2', 'a3'].map((k) => decide(a.engine, call(k))));
    expect(onA.every((d) => d.allow)).toBe(true);
    // A retry of a held request is the same reservation, not a second charge.
    const retried = await decide(a.engine, call('a1'));
    expect(retried.allow && retried.reservation).toBe(onA[0].allow && onA[0].reservation);
    // The forward failed: refunded locally; the block is A's until A is idle.
    const held = onA[2].allow ? onA[2].reservation : null;
    expect(held).not.toBeNull();
    expect(a.engine.ledger!.refund(held!)).toBe(true);
    expect(a.engine.ledger!.refund(held!)).toBe(false);

    const onB = await Promise.all(['b1', 'b2'].map((k) => decide(b.engine, call(k))));
    expect(onB.every((d) => d.allow)).toBe(true);
    expect(await usedInStore('b')).toEqual([5]);

    // Within 2 × idleMs A gives its unspent unit back and B's next call fits.
    const started = Date.now();
    let third: Decision;
    do third = await decide(b.engine, call(`b3-${Date.now()}`));
    while (!third.allow && Date.now() - started < 2000);
    expect(third.allow).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await decide(b.engine, call('b4'))).toMatchObject({ allow: false, code: 'budget_exhausted' });
    expect(await usedInStore('b')).toEqual([5]);
  });

  it('settles tokens above the estimate from the store, never past the limit', async () => {
    const a = await instance();
    await a.admin.setBudget({ id: 't', scope: 'agent', subject: 'ci', metric: 'tokens', limit: 1000, period: 'day' });
    const first = await decide(a.engine, call('t1', { tokens: 100 }));
    expect(first.allow).toBe(true);
    const ledger = a.engine.ledger!;
    // 300 used where 100 were held: the local block covers 100, the store is charged the rest.
    expect(ledger.settle((first.allow ? first.reservation : null)!, { tokens: 300 })).toEqual({ settled: true, unbilled: 200 });
    const second = await decide(a.engine, call('t2', { tokens: 100 }));
    expect(second.allow).toBe(true);
    // 5000 reported: only what is left under the limit is charged.
    ledger.settle((second.allow ? second.reservation : null)!, { tokens: 5000 });
    await closeAll();
    expect(await usedInStore('t')).toEqual([1000]);
  });

  it('a new period starts empty on every instance; the old period keeps its spending', async () => {
    const a = await instance();
    const b = await instance();
    await a.admin.setBudget({ id: 'h', scope: 'agent', subject: 'ci', metric: 'calls', limit: 2, period: 'hour' });
    await until(() => b.engine.index.budgetsFor('agent', 'ci').length === 1);
    expect((await decide(a.engine, call('p1'))).allow).toBe(true);
    expect((await decide(b.engine, call('p2'))).allow).toBe(true);
    expect(await decide(a.engine, call('p3'))).toMatchObject({ allow: false, code: 'budget_exhausted' });
    expect(await decide(b.engine, call('p4'))).toMatchObject({ allow: false, code: 'budget_exhausted' });

    clock.now = T0 + 3_600_000;
    const next = await Promise.all([decide(a.engine, call('q1')), decide(b.engine, call('q2')), decide(a.engine, call('q3'))]);
    expect(next.filter((d) => d.allow)).toHaveLength(2);
    expect(await usedInStore('h')).toEqual([2, 2]);
  });
});
