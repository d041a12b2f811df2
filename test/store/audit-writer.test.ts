/**
 * The audit writer on the suite's store (SQLite file or Postgres, `PORTCULLIS_TEST_STORE`): group
 * commit, the chain across restarts, arguments, options. SQL ops run with a record are SQLite's.
 */
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPortcullisError } from '../../src/errors.js';
import { canonicalJson, sha256Hex } from '../../src/store/audit-chain.js';
import type { AuditAttempt } from '../../src/store/audit-record.js';
import { createAuditWriter, type AuditWriter } from '../../src/store/audit-writer.js';
import { createPostgresAuditWriter } from '../../src/store/postgres/audit-writer.js';
import { freshAuditDatabase, TEST_STORE, type AuditTestDatabase, type TestWriterOptions } from '../helpers/audit-store.js';

const SECRET = 'audit-test-secret-0123456789abcdef';

let store: AuditTestDatabase;
let file: string;
const open = (opts: TestWriterOptions = {}): AuditWriter => store.writer({ secret: SECRET, ...opts });
const verify = async () => (await store.reader()).verify({ secret: SECRET });
const attempt = (key: string, extra: Partial<AuditAttempt> = {}): AuditAttempt => ({
  kind: 'attempt',
  requestKey: key,
  decision: 'allow',
  agent: 'agent-1',
  server: 'github',
  tool: 'create_issue',
  ...extra,
});

beforeEach(async () => {
  store = await freshAuditDatabase();
  file = store.db.url;
});
afterEach(() => store.drop());

describe('group commit', () => {
  it('resolves each append only once its row is committed, and groups appends into few transactions', async () => {
    const w = open();
    await w.ready();
    const get = async (key: string) => (await store.sql('SELECT seq, kind, request_key FROM audit_log WHERE request_key = ?', [key]))[0];
    const N = 200;
    const seen: Array<{ key: string; seq: number; row: Promise<unknown> }> = [];
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        w.append(attempt(`k${i}`)).then(({ seq }) => {
          // Read back on a second connection as soon as the promise resolves: the row must
          // already be committed (other connections only see committed transactions).
          seen.push({ key: `k${i}`, seq, row: get(`k${i}`) });
        }),
      ),
    );
    expect(seen).toHaveLength(N);
    for (const s of seen) expect(await s.row).toEqual({ seq: s.seq, kind: 'attempt', request_key: s.key });
    // FIFO: seqs follow append order, 1..N.
    expect(seen.map((s) => s.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    const stats = w.stats();
    expect(stats.committed).toBe(N);
    expect(stats.batches).toBeLessThan(N / 10);
    expect(stats.maxBatchSize).toBeGreaterThan(1);
  });

  it('splits a long queue into batches of at most batchSize', async () => {
    const w = open({ batchSize: 50 });
    const results = await Promise.all(Array.from({ length: 333 }, (_, i) => w.append(attempt(`b${i}`))));
    expect(results.map((r) => r.seq)).toEqual(Array.from({ length: 333 }, (_, i) => i + 1));
    expect(w.stats().maxBatchSize).toBeLessThanOrEqual(50);
    expect(w.stats().batches).toBeGreaterThanOrEqual(7);
  });

  it('waits up to flushMs for company when asked to', async () => {
    const w = open({ flushMs: 20 });
    await w.ready();
    const first = w.append(attempt('t0'));
    await new Promise((r) => setTimeout(r, 5));
    const second = w.append(attempt('t1'));
    await Promise.all([first, second]);
    expect(w.stats().batches).toBe(1);
  });

  it('sends a deferred record with the next batch instead of on its own', async () => {
    const w = open({ deferMs: 60_000 });
    await w.ready();
    const deferred = w.append(attempt('d0', { decision: 'deny', reason: 'no_permission' }), { defer: true });
    await new Promise((r) => setTimeout(r, 30));
    expect(w.stats()).toMatchObject({ batches: 0, committed: 0 });
    const urgent = w.append(attempt('a0'));
    const [d, a] = await Promise.all([deferred, urgent]);
    expect(w.stats()).toMatchObject({ batches: 1, committed: 2 });
    expect(d.seq).toBeLessThan(a.seq); // append order, as always
  });

  it('sends a deferred record by itself after deferMs, and at close at the latest', async () => {
    const w = open({ deferMs: 40 });
    await w.ready();
    const started = Date.now();
    await w.append(attempt('d1'), { defer: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
    expect(w.stats().batches).toBe(1);

    const late = open({ deferMs: 60_000 });
    await late.ready();
    const pending = late.append(attempt('d2'), { defer: true });
    await late.close();
    await expect(pending).resolves.toMatchObject({ seq: expect.any(Number) });
    expect(await store.sql('SELECT request_key FROM audit_log WHERE request_key = ?', ['d2'])).toHaveLength(1);
  });
});

describe('chain across restarts', () => {
  it('continues seq and hash from the table when a new writer starts', async () => {
    const a = open();
    await a.append(attempt('r1'));
    await a.append({ kind: 'outcome', requestKey: 'r1', status: 'ok', isError: false, latencyMs: 1.5, bytes: 10 });
    await a.append(attempt('r2', { decision: 'deny', reason: 'no_permission' }));
    await a.close();
    const b = open();
    // Every attempt of the first run has its outcome (or was denied): nothing to recover.
    expect(await b.ready()).toMatchObject({ seq: 3, recovered: 0 });
    expect(await b.append(attempt('r3'))).toEqual({ seq: 4 });
    await b.close();
    expect(await verify()).toMatchObject({ ok: true, rows: 4 });
  });
});

describe('arguments', () => {
  it('digests the full arguments and stores them redacted only when asked', async () => {
    const args = { repo: 'acme/web', auth: { Password: 'hunter2', nested: [{ access_token: 't' }] }, title: 'x' };
    const w = open();
    await w.append(attempt('a1', { arguments: args, storeArguments: true }));
    await w.append(attempt('a2', { arguments: args }));
    await w.close();
    const rows = await store.sql<{ request_key: string; args_digest: string; args: string | null }>(
      'SELECT request_key, args_digest, args FROM audit_log ORDER BY seq',
    );
    expect(rows[0].args_digest).toBe(sha256Hex(canonicalJson(args)));
    expect(rows[1].args_digest).toBe(rows[0].args_digest);
    expect(JSON.parse(rows[0].args!)).toEqual({
      repo: 'acme/web',
      auth: { Password: '[REDACTED]', nested: [{ access_token: '[REDACTED]' }] },
      title: 'x',
    });
    expect(rows[1].args).toBeNull();
  });
});

describe.runIf(TEST_STORE === 'sqlite')('extra ops in the same transaction', () => {
  it('commits budget usage with the records that spent it, and refuses only the record whose op fails', async () => {
    const setup = new Database(file);
    setup.exec('CREATE TABLE budget (key TEXT PRIMARY KEY, used INTEGER NOT NULL, cap INTEGER NOT NULL)');
    setup.exec("INSERT INTO budget VALUES ('agent-1', 0, 3)");
    setup.close();
    const w = open();
    const spend = {
      sql: 'UPDATE budget SET used = used + 1 WHERE key = ? AND used + 1 <= cap',
      params: ['agent-1'],
      expectChanges: 1,
    };
    const settled = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => w.append(attempt(`o${i}`), { ops: [spend] })),
    );
    // A broken op (here, bad SQL) is that record's problem, not the store's.
    await expect(w.append(attempt('bad-sql'), { ops: [{ sql: 'UPDATE no_such_table SET x = 1' }] })).rejects.toThrow(
      /no such table/,
    );
    const plain = await w.append(attempt('plain'));
    const ok = settled.filter((s) => s.status === 'fulfilled');
    const refused = settled.filter((s) => s.status === 'rejected');
    expect(ok).toHaveLength(3);
    expect(refused).toHaveLength(2);
    for (const r of refused) expect(isPortcullisError((r as PromiseRejectedResult).reason, 'STORE_FAILURE')).toBe(true);
    expect(plain.seq).toBe(4); // refused records left no gap in the chain
    await w.close();
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT used FROM budget').get()).toEqual({ used: 3 });
    expect(db.prepare("SELECT count(*) AS n FROM audit_log WHERE request_key LIKE 'o%'").get()).toEqual({ n: 3 });
    db.close();
    expect(await verify()).toMatchObject({ ok: true, rows: 4 });
  });
});

describe.runIf(TEST_STORE === 'postgres')('extra ops on Postgres', () => {
  it('refuses a record that carries SQLite ops instead of half-running them, and writes nothing for it', async () => {
    const w = open();
    await expect(w.append(attempt('with-op'), { ops: [{ sql: 'UPDATE budget SET used = used + 1' }] })).rejects.toThrow(/not supported on Postgres/);
    expect(await w.append(attempt('plain'))).toEqual({ seq: 1 });
    expect(await store.sql("SELECT count(*) AS n FROM audit_log WHERE request_key = 'with-op'")).toEqual([{ n: 0 }]);
  });
});

describe('validation', () => {
  it.each([
    [{ secret: 'short' }, /secret/],
    [{ durability: 'disk' as never }, /durability/],
    [{ batchSize: 0 }, /batchSize/],
    [{ deferMs: 0 }, /deferMs/],
  ])('rejects bad options at construction: %o', (bad, message) => {
    expect(() => open(bad)).toThrow(message);
  });

  it.runIf(TEST_STORE === 'sqlite')('refuses a database without a file', () => {
    expect(() => createAuditWriter({ file: ':memory:', secret: SECRET })).toThrow(/file/);
  });

  it.runIf(TEST_STORE === 'postgres')('refuses a URL that is not postgres://', () => {
    expect(() => createPostgresAuditWriter({ url: 'mysql://x', secret: SECRET })).toThrow(/url/);
  });

  it('rejects a malformed record at once, and any append after close', async () => {
    const w = open();
    await expect(w.append({ kind: 'attempt', requestKey: '', decision: 'allow' })).rejects.toThrow(/requestKey/);
    await expect(w.append({ kind: 'outcome', requestKey: 'x' } as never)).rejects.toThrow(/status/);
    await w.close();
    await expect(w.append(attempt('late'))).rejects.toSatisfy((e) => isPortcullisError(e, 'STORE_FAILURE'));
  });
});
