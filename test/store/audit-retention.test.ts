import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditAttempt } from '../../src/store/audit-record.js';
import { pruneAudit } from '../../src/store/audit-retention.js';
import { verifyAuditChain } from '../../src/store/audit-verify.js';
import { createAuditWriter, type AuditWriter } from '../../src/store/audit-writer.js';

const SECRET = 'audit-test-secret-0123456789abcdef';
const DAY = 86_400_000;
const NOW = Date.now();

let dir: string;
let file: string;
let writer: AuditWriter | undefined;
const attempt = (key: string, time: number): AuditAttempt => ({
  kind: 'attempt',
  requestKey: key,
  decision: 'deny', // denied: no outcome expected, so restarts add no recovery rows
  reason: 'no_permission',
  server: 's',
  tool: 't',
  time,
});
const verify = () => verifyAuditChain(file, { secret: SECRET });

/** 40 rows from 40 days ago, then 10 from today, through a writer that is then closed. */
async function seed(): Promise<void> {
  const w = createAuditWriter({ file, secret: SECRET, checkpointEvery: 7 });
  for (let i = 0; i < 40; i++) await w.append(attempt(`old-${i}`, NOW - 40 * DAY + i));
  for (let i = 0; i < 10; i++) await w.append(attempt(`new-${i}`, NOW - i));
  await w.close();
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-audit-retention-'));
  file = join(dir, 'gateway.db');
});
afterEach(async () => {
  await writer?.close();
  writer = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('retention', () => {
  it('prunes rows older than the cutoff in chunks, and verify starts from the signed prune checkpoint', async () => {
    await seed();
    const result = await pruneAudit(file, { retentionDays: 30, secret: SECRET, now: NOW, chunkRows: 15 });
    expect(result).toEqual({ deleted: 40, prunedThrough: 40 });
    expect(await verify()).toMatchObject({ ok: true, rows: 10, prunedThrough: 40, head: { seq: 50 } });

    // The chain goes on from where it was, and still verifies.
    writer = createAuditWriter({ file, secret: SECRET });
    expect(await writer.append(attempt('later', NOW))).toEqual({ seq: 51 });
    await writer.close();
    expect(await verify()).toMatchObject({ ok: true, rows: 11, prunedThrough: 40 });
  });

  it('keeps the head row even when every row is old, so the chain continues', async () => {
    await seed();
    const result = await pruneAudit(file, { retentionDays: 1, secret: SECRET, now: NOW + 10 * DAY });
    expect(result).toEqual({ deleted: 49, prunedThrough: 49 });
    expect(await verify()).toMatchObject({ ok: true, rows: 1, head: { seq: 50 } });
    writer = createAuditWriter({ file, secret: SECRET });
    expect(await writer.append(attempt('next', NOW))).toEqual({ seq: 51 });
    await writer.close();
    expect(await verify()).toMatchObject({ ok: true, rows: 2 });
  });

  it('still catches tampering after a prune: a deleted first row, or a prefix deleted without a checkpoint', async () => {
    await seed();
    await pruneAudit(file, { retentionDays: 30, secret: SECRET, now: NOW });
    const db = new Database(file);
    db.prepare('DELETE FROM audit_log WHERE seq = 41').run();
    db.close();
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 41, problem: 'missing_row' });

    const other = join(dir, 'other.db');
    file = other;
    await seed();
    const raw = new Database(other);
    raw.prepare('DELETE FROM audit_log WHERE seq <= 10').run(); // "retention" without the secret
    raw.close();
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 1, problem: 'missing_row' });
  });

  it('prunes on the writer thread, between batches, while appends go on', async () => {
    await seed();
    writer = createAuditWriter({ file, secret: SECRET, retentionDays: 30 });
    const appends = Array.from({ length: 50 }, (_, i) => writer!.append(attempt(`during-${i}`, NOW)));
    const pruned = await writer.prune();
    await Promise.all(appends);
    expect(pruned).toEqual({ deleted: 40, prunedThrough: 40 });
    await writer.close();
    writer = undefined;
    expect(await verify()).toMatchObject({ ok: true, rows: 60, prunedThrough: 40 });
  });

  it('prunes periodically when retentionDays is configured', async () => {
    await seed();
    writer = createAuditWriter({ file, secret: SECRET, retentionDays: 30, pruneIntervalMs: 50 });
    await writer.ready();
    const reader = new Database(file, { readonly: true });
    const count = reader.prepare('SELECT count(*) AS n FROM audit_log');
    const deadline = Date.now() + 5000;
    while ((count.get() as { n: number }).n !== 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(count.get()).toEqual({ n: 10 });
    reader.close();
    await writer.close();
    writer = undefined;
    expect(await verify()).toMatchObject({ ok: true, rows: 10 });
  });

  it('validates its options', async () => {
    await expect(pruneAudit(file, { retentionDays: 0, secret: SECRET })).rejects.toThrow(/retentionDays/);
    await expect(pruneAudit(file, { retentionDays: 1, secret: 'short' })).rejects.toThrow(/secret/);
  });
});
