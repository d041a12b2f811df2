/**
 * Cross-instance invalidation on Postgres: a revoke committed by one instance reaches every other
 * instance's decision cache through LISTEN/NOTIFY at once, and through short polling while the
 * listener is down (killed backend), after which LISTEN comes back.
 */
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPolicy, type PolicyRuntime } from '../../src/admin/start-policy.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { openPostgresStore } from '../../src/store/postgres/store.js';
import type { Store } from '../../src/store/store.js';
import { freshPostgresDatabase, PG_URL, type TestDatabase } from '../helpers/database.js';
import { T0 } from './harness.js';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const config = parseConfig({ agents: { declared: { agents: [{ id: 'ci', name: 'CI' }] } } });
const call = { agentId: 'ci', action: 'call' as const, server: 'github', tool: 'list' };

let db: TestDatabase;
const stores: Store[] = [];
const runtimes: PolicyRuntime[] = [];

/** An instance that polls every 200 ms while its listener is down, and only once a minute while it is up. */
async function instance(): Promise<PolicyRuntime> {
  const store = await openPostgresStore({ url: db.url });
  stores.push(store);
  const runtime = await startPolicy({ store, config, now: () => T0, logger: silent, env: {}, pollMs: 200, listeningPollMs: 60_000 });
  runtimes.push(runtime);
  return runtime;
}

async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
  return performance.now() - started;
}

async function sql<T>(text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

// Only this test's database: other suites share the cluster.
const listeners = () => sql<{ pid: number }>(`select pid from pg_stat_activity where query like 'LISTEN%' and datname = current_database()`);

describe.skipIf(!PG_URL)('policy changes pushed between instances on Postgres', () => {
  beforeEach(async () => {
    db = await freshPostgresDatabase();
  });
  afterEach(async () => {
    for (const r of runtimes.splice(0)) await r.close();
    for (const s of stores.splice(0)) await s.close();
    await db.drop();
  });

  it('a revoke on A is refused on B well under a second, and still after the listener is killed', async () => {
    const a = await instance();
    const b = await instance();
    await until(() => a.sync.listening && b.sync.listening);

    await a.admin.grant({ id: 'gh', agentId: 'ci', resource: 'mcp:github:*' });
    await until(() => b.engine.decide(call).allow);
    // The decision is cached on B: only the pushed change can take it out.
    expect(b.engine.decide(call).allow).toBe(true);

    const started = performance.now();
    await a.admin.revokePermission('gh');
    await until(() => !b.engine.decide(call).allow);
    const latency = performance.now() - started;
    console.log(`revoke propagation A → B with LISTEN: ${latency.toFixed(1)} ms`);
    expect(latency).toBeLessThan(1000);

    // Kill every LISTEN backend of this database: the instances fall back to polling and reconnect.
    await a.admin.grant({ id: 'gh2', agentId: 'ci', resource: 'mcp:github:*' });
    await until(() => b.engine.decide(call).allow);
    expect((await listeners()).length).toBe(2);
    await sql(`select pg_terminate_backend(pid) from pg_stat_activity where query like 'LISTEN%' and datname = current_database()`);
    await until(() => !b.sync.listening);
    const downAt = performance.now();
    await a.admin.revokePermission('gh2');
    await until(() => !b.engine.decide(call).allow);
    const fallback = performance.now() - downAt;
    console.log(`revoke propagation A → B after the LISTEN backend was killed: ${fallback.toFixed(1)} ms`);
    expect(fallback).toBeLessThan(1000);

    // LISTEN comes back on both, and pushes again.
    await until(async () => a.sync.listening && b.sync.listening && (await listeners()).length === 2);
    await a.admin.grant({ id: 'gh3', agentId: 'ci', resource: 'mcp:github:*' });
    await until(() => b.engine.decide(call).allow);
    const again = performance.now();
    await a.admin.revokePermission('gh3');
    await until(() => !b.engine.decide(call).allow);
    expect(performance.now() - again).toBeLessThan(1000);
  });

  it('a change committed by a writer that is not a gateway (the CLI) is pushed too', async () => {
    const b = await instance();
    await until(() => b.sync.listening);
    const cli = await openPostgresStore({ url: db.url });
    stores.push(cli);
    const { createPolicyAdmin } = await import('../../src/admin/policy-admin.js');
    const admin = createPolicyAdmin({ store: cli, now: () => T0 });
    await admin.grant({ id: 'gh', agentId: 'ci', resource: 'mcp:github:*' });
    const latency = await until(() => b.engine.decide(call).allow);
    expect(latency).toBeLessThan(1000);
  });
});
