/**
 * Retention on the suite's store (SQLite file or Postgres, `PORTCULLIS_TEST_STORE`): prunes
 * through the AuditReader (what `portcullis audit prune` uses) and through the writer, between
 * its batches; verify starts from the signed prune checkpoint and still catches tampering.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditAttempt } from '../../src/store/audit-record.js';
import type { AuditWriter } from '../../src/store/audit-writer.js';
import { freshAuditDatabase, type AuditTestDatabase, type TestWriterOptions } from '../helpers/audit-store.js';

const SECRET = 'audit-test-secret-0123456789abcdef';
const DAY = 86_400_000;
const NOW = Date.now();

let store: AuditTestDatabase;
const extra: AuditTestDatabase[] = [];
const attempt = (key: string, time: number): AuditAttempt => ({
  kind: 'attempt',
  requestKey: key,
  decision: 'deny', // denied: no outcome expected, so restarts add no recovery rows
  reason: 'no_permission',
  server: 's',
  tool: 't',
  time,
});
const open = (opts: TestWriterOptions = {}, on = store): AuditWriter => on.writer({ secret: SECRET, ...opts });
const verify = async (on = store) => (await on.reader()).verify({ secret: SECRET });
const prune = async (opts: { retentionDays: number; now?: number; chunkRows?: number; secret?: string }) =>
  (await store.reader()).prune({ secret: SECRET, ...opts });

/** 40 rows from 40 days ago, then 10 from today, through a writer that is then closed. */
async function seed(on = store): Promise<void> {
  const w = open({ checkpointEvery: 7 }, on);
  for (let i = 0; i < 40; i++) await w.append(attempt(`old-${i}`, NOW - 40 * DAY + i));
  for (let i = 0; i < 10; i++) await w.append(attempt(`new-${i}`, NOW - i));
  await w.close();
}

beforeEach(async () => {
  store = await freshAuditDatabase();
});
afterEach(async () => {
  await Promise.all([store, ...extra.splice(0)].map((s) => s.drop()));
});

describe('retention', () => {
  it('prunes rows older than the cutoff in chunks, and verify starts from the signed prune checkpoint', async () => {
    await seed();
    const result = await prune({ retentionDays: 30, now: NOW, chunkRows: 15 });
    expect(result).toEqual({ deleted: 40, prunedThrough: 40 });
    expect(await verify()).toMatchObject({ ok: true, rows: 10, prunedThrough: 40, head: { seq: 50 } });

    // The chain goes on from where it was, and still verifies.
    const writer = open();
    expect(await writer.append(attempt('later', NOW))).toEqual({ seq: 51 });
    await writer.close();
    expect(await verify()).toMatchObject({ ok: true, rows: 11, prunedThrough: 40 });
  });

  it('keeps the head row even when every row is old, so the chain continues', async () => {
    await seed();
    const result = await prune({ retentionDays: 1, now: NOW + 10 * DAY });
    expect(result).toEqual({ deleted: 49, prunedThrough: 49 });
    expect(await verify()).toMatchObject({ ok: true, rows: 1, head: { seq: 50 } });
    const writer = open();
    expect(await writer.append(attempt('next', NOW))).toEqual({ seq: 51 });
    await writer.close();
    expect(await verify()).toMatchObject({ ok: true, rows: 2 });
  });

  it('still catches tampering after a prune: a deleted first row, or a prefix deleted without a checkpoint', async () => {
    await seed();
    await prune({ retentionDays: 30, now: NOW });
    await store.sql('DELETE FROM audit_log WHERE seq = 41');
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 41, problem: 'missing_row' });

    const other = await freshAuditDatabase();
    extra.push(other);
    await seed(other);
    await other.sql('DELETE FROM audit_log WHERE seq <= 10'); // "retention" without the secret
    expect(await verify(other)).toMatchObject({ ok: false, firstBadSeq: 1, problem: 'missing_row' });
  });

  it('prunes in the writer, between batches, while appends go on', async () => {
    await seed();
    const writer = open({ retentionDays: 30 });
    const appends = Array.from({ length: 50 }, (_, i) => writer.append(attempt(`during-${i}`, NOW)));
    const pruned = await writer.prune();
    await Promise.all(appends);
    expect(pruned).toEqual({ deleted: 40, prunedThrough: 40 });
    await writer.close();
    expect(await verify()).toMatchObject({ ok: true, rows: 60, prunedThrough: 40 });
  });

  it('prunes periodically when retentionDays is configured', async () => {
    await seed();
    const writer = open({ retentionDays: 30, pruneIntervalMs: 50 });
    await writer.ready();
    const count = async () => Number((await store.sql<{ n: number }>('SELECT count(*) AS n FROM audit_log'))[0].n);
    const deadline = Date.now() + 5000;
    while ((await count()) !== 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await count()).toBe(10);
    await writer.close();
    expect(await verify()).toMatchObject({ ok: true, rows: 10 });
  });

  it('validates its options', async () => {
    await seed();
    await expect(prune({ retentionDays: 0 })).rejects.toThrow(/retentionDays/);
    await expect(prune({ retentionDays: 1, secret: 'short' })).rejects.toThrow(/secret/);
    expect(await verify()).toMatchObject({ ok: true, rows: 50 }); // refused before touching anything
  });
});
