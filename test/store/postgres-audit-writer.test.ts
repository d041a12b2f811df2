/**
 * What only the Postgres audit writer has to get right: several writers (gateway instances) on
 * one database extend ONE chain, a batch the database refuses rejects every append of it and the
 * same writer carries on once the database takes writes again, and crash recovery settles only
 * attempts that no live instance can still answer. Real Postgres (the test cluster).
 */
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPortcullisError, type PortcullisError } from '../../src/errors.js';
import type { AuditAttempt } from '../../src/store/audit-record.js';
import { freshAuditDatabase, TEST_CLIENT_NAME, type AuditTestDatabase } from '../helpers/audit-store.js';
import { createPostgresAuditWriter } from '../../src/store/postgres/audit-writer.js';
import { PG_URL } from '../helpers/database.js';

const SECRET = 'audit-test-secret-0123456789abcdef';
const attempt = (key: string, extra: Partial<AuditAttempt> = {}): AuditAttempt => ({
  kind: 'attempt',
  requestKey: key,
  decision: 'allow',
  agent: 'a',
  server: 's',
  tool: 't',
  ...extra,
});
const storeFailure = (e: unknown): boolean => isPortcullisError(e, 'STORE_FAILURE');

describe.skipIf(!PG_URL)('Postgres audit writer', () => {
  let store: AuditTestDatabase;
  beforeEach(async () => {
    store = await freshAuditDatabase('postgres');
  });
  afterEach(() => store.drop());
  const verify = async () => (await store.reader()).verify({ secret: SECRET });

  it('two writers appending at once build one gapless chain that verifies, each append with its own seq', async () => {
    const a = store.writer({ secret: SECRET, batchSize: 32, checkpointEvery: 100 });
    const b = store.writer({ secret: SECRET, batchSize: 32, checkpointEvery: 100 });
    await Promise.all([a.ready(), b.ready()]);
    const N = 1500;
    const appends: Array<Promise<{ seq: number }>> = [];
    // Interleaved in bursts, so both writers have batches waiting for the chain lock together.
    for (let i = 0; i < N; i++) {
      appends.push((i % 2 ? a : b).append(attempt(`c${i}`, { decision: i % 3 ? 'allow' : 'deny' })));
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    const seqs = (await Promise.all(appends)).map((r) => r.seq);
    expect(new Set(seqs).size).toBe(N);
    expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    // Each writer's own appends keep their order.
    for (const parity of [0, 1]) {
      const own = seqs.filter((_, i) => i % 2 === parity);
      expect(own).toEqual([...own].sort((x, y) => x - y));
    }
    expect(a.stats().batches + b.stats().batches).toBeLessThan(N / 4);
    const rows = await store.sql<{ seq: number; request_key: string }>('SELECT seq, request_key FROM audit_log ORDER BY seq');
    expect(rows.map((r) => r.request_key)).toEqual(seqs.map((_, i) => i).sort((x, y) => seqs[x] - seqs[y]).map((i) => `c${i}`));
    await Promise.all([a.close(), b.close()]);
    expect(await verify()).toMatchObject({ ok: true, rows: N, head: { seq: N }, checkpointedThrough: N });
  });

  it('rejects every append of a batch the database refuses (INSERT revoked), then recovers by itself', async () => {
    const owner = store.writer({ secret: SECRET }); // applies the migrations as the database's owner
    await owner.ready();
    await owner.close();
    const role = `audit_rw_${Math.random().toString(36).slice(2, 8)}`;
    await store.sql(`CREATE ROLE ${role} LOGIN`);
    await store.sql(`GRANT ALL ON ALL TABLES IN SCHEMA public TO ${role}`);
    await store.sql(`GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
    await store.sql(`GRANT ALL ON SCHEMA public TO ${role}`);
    const url = new URL(store.db.url);
    url.username = role;
    const failures: PortcullisError[] = [];
    const writer = createPostgresAuditWriter({ url: url.toString(), secret: SECRET, skipMigrations: true, onFailure: (e) => failures.push(e) });
    try {
      expect(await writer.append(attempt('before'))).toEqual({ seq: 1 });
      await store.sql(`REVOKE INSERT ON audit_log FROM ${role}`);
      const refused = await Promise.allSettled([writer.append(attempt('r1')), writer.append(attempt('r2')), writer.append(attempt('r3'))]);
      expect(refused.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
      for (const r of refused) expect(storeFailure((r as PromiseRejectedResult).reason)).toBe(true);
      expect((refused[0] as PromiseRejectedResult).reason.message).toMatch(/42501|permission denied/);
      expect(failures.length).toBeGreaterThan(0);

      await store.sql(`GRANT INSERT ON audit_log TO ${role}`);
      expect(await writer.append(attempt('after'))).toEqual({ seq: 2 }); // no gap: nothing half-written
    } finally {
      await writer.close();
      await store.sql(`DROP OWNED BY ${role}`);
      await store.sql(`DROP ROLE ${role}`);
    }
    expect(await verify()).toMatchObject({ ok: true, rows: 2 });
  });

  it('rejects appends whose connection is killed (pg_terminate_backend), and writes on with fresh connections', async () => {
    const w = store.writer({ secret: SECRET });
    expect(await w.append(attempt('first'))).toEqual({ seq: 1 });
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    const dbName = new URL(store.db.url).pathname.slice(1);
    const kill = () => admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name <> $2 AND pid <> pg_backend_pid()', [dbName, TEST_CLIENT_NAME]);
    try {
      // Killed while batches are in flight: whatever was in the killed transaction is refused.
      // Observed from the start: a batch may be refused before the kill's own round trip returns.
      const during = Promise.allSettled(Array.from({ length: 400 }, (_, i) => w.append(attempt(`k${i}`))));
      await kill();
      const settled = await during;
      for (const r of settled) if (r.status === 'rejected') expect(storeFailure(r.reason)).toBe(true);
      // Killed while idle: the pool drops the dead connection and the next batch opens another.
      await kill();
      const next = await w.append(attempt('after'));
      const committed = settled.filter((r) => r.status === 'fulfilled').length;
      expect(next.seq).toBe(2 + committed);
    } finally {
      await admin.end();
    }
    await w.close();
    expect(await verify()).toMatchObject({ ok: true });
  });

  it('settles only attempts older than orphanAfterMs: a live instance keeps its open calls', async () => {
    const T = Date.now();
    const crashed = store.writer({ secret: SECRET });
    await crashed.append(attempt('old-open', { time: T - 60_000 }));
    await crashed.append(attempt('old-answered', { time: T - 60_000 }));
    await crashed.append({ kind: 'outcome', requestKey: 'old-answered', status: 'ok', time: T - 59_000 });
    await crashed.append(attempt('young-open', { time: T - 1_000 }));
    await crashed.append(attempt('old-denied', { time: T - 60_000, decision: 'deny' }));
    await crashed.close();

    // Two instances start together: the old orphan is settled exactly once, the young one not at all.
    const a = store.writer({ secret: SECRET, orphanAfterMs: 30_000 });
    const b = store.writer({ secret: SECRET, orphanAfterMs: 30_000 });
    const [ra, rb] = await Promise.all([a.ready(), b.ready()]);
    expect(ra.recovered + rb.recovered).toBe(1);
    const outcomes = await store.sql<{ request_key: string; status: string; reason: string }>(
      "SELECT request_key, status, reason FROM audit_log WHERE kind = 'outcome' ORDER BY seq",
    );
    expect(outcomes).toEqual([
      { request_key: 'old-answered', status: 'ok', reason: null },
      { request_key: 'old-open', status: 'outcome_unknown', reason: 'gateway_restarted' },
    ]);
    // Once it is old enough, the periodic sweep of a running writer settles it too.
    const c = store.writer({ secret: SECRET, orphanAfterMs: 500, recoverIntervalMs: 100 });
    await c.ready();
    const deadline = Date.now() + 5000;
    let young: unknown[] = [];
    while (young.length === 0 && Date.now() < deadline) {
      young = await store.sql("SELECT 1 FROM audit_log WHERE kind = 'outcome' AND request_key = 'young-open'");
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(young).toHaveLength(1);
    await Promise.all([a.close(), b.close(), c.close()]);
    expect(await verify()).toMatchObject({ ok: true });
  });
});
