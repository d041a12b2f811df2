/**
 * Tamper evidence on the suite's store (SQLite file or Postgres, `PORTCULLIS_TEST_STORE`): each
 * case writes a 30-row log with signed checkpoints at 10, 20 and 30 into a database of its own,
 * edits it with SQL outside the gateway's code, and verifies through the AuditReader. The byte
 * flipped in the database file is SQLite's alone (Postgres files are not the test's to edit).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashAuditRow, type StoredAuditRow } from '../../src/store/audit-chain.js';
import { verifyAuditChain } from '../../src/store/audit-verify.js';
import { freshAuditDatabase, type AuditTestDatabase } from '../helpers/audit-store.js';

const SECRET = 'audit-test-secret-0123456789abcdef';
const ROWS = 30;

/** Three sequential groups of 10 with checkpointEvery 10 → signed head checkpoints at 10, 20 and 30. */
async function seed(store: AuditTestDatabase): Promise<void> {
  const w = store.writer({ secret: SECRET, checkpointEvery: 10 });
  for (let g = 0; g < 3; g++) {
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => {
        const key = String(g * 10 + i + 1).padStart(4, '0');
        return w.append({
          kind: 'attempt',
          requestKey: `req-${key}`,
          decision: 'allow',
          server: 'files',
          tool: 'read',
          // A marker stored only in this unindexed column, so the byte flip below hits the row itself.
          reason: `marker#${key}#`,
        });
      }),
    );
  }
  await w.close();
}

describe('verify on the suite store', () => {
  let store: AuditTestDatabase;
  const verify = async (secret = SECRET) => (await store.reader()).verify({ secret });
  beforeEach(async () => {
    store = await freshAuditDatabase();
    await seed(store);
  });
  afterEach(() => store.drop());

  it('accepts the untouched log', async () => {
    expect(await verify()).toMatchObject({ ok: true, rows: ROWS, checkpointedThrough: ROWS });
  });

  it('reports a value edited through SQL at its row', async () => {
    await store.sql("UPDATE audit_log SET tool = 'write' WHERE seq = 5");
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 5, problem: 'hash_mismatch' });
  });

  it('reports a deleted middle row at its seq', async () => {
    await store.sql('DELETE FROM audit_log WHERE seq = 12');
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 12, problem: 'missing_row' });
  });

  it('reports two swapped rows at the first of them', async () => {
    await store.transaction([
      ['UPDATE audit_log SET seq = -1 WHERE seq = 20'],
      ['UPDATE audit_log SET seq = 20 WHERE seq = 21'],
      ['UPDATE audit_log SET seq = 21 WHERE seq = -1'],
    ]);
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 20, problem: 'prev_hash_mismatch' });
  });

  it('reports a truncated tail at the first missing seq, through the signed head checkpoint', async () => {
    await store.sql('DELETE FROM audit_log WHERE seq > 25');
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 26, problem: 'truncated' });
  });

  it('reports a chain rewritten with recomputed hashes after the last checkpoint that still matches', async () => {
    const rows = await store.sql<Record<string, string | number | boolean | null>>('SELECT * FROM audit_log WHERE seq >= 15 ORDER BY seq');
    let prev = (await store.sql<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = 14'))[0].hash;
    const updates: Array<[string, unknown[]]> = [];
    for (const row of rows) {
      // Hashed in SQLite's form, as the writer does: Postgres hands `is_error` back as a boolean.
      const stored = { ...row, is_error: typeof row.is_error === 'boolean' ? Number(row.is_error) : row.is_error } as StoredAuditRow;
      const forged = { ...stored, tool: row.seq === 15 ? 'delete' : stored.tool };
      const hash = hashAuditRow(forged, prev);
      updates.push(['UPDATE audit_log SET tool = ?, prev_hash = ?, hash = ? WHERE seq = ?', [forged.tool, prev, hash, row.seq]]);
      prev = hash;
    }
    await store.transaction(updates);
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 11, problem: 'checkpoint_mismatch' });
  });

  it('reports a checkpoint that was not signed with the secret', async () => {
    await store.sql("UPDATE audit_checkpoints SET seq = 8 WHERE kind = 'head' AND seq = 10");
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 8, problem: 'bad_checkpoint_signature' });
  });

  it('cannot verify checkpoints under another secret', async () => {
    expect(await verify('another-secret-of-32-characters!!')).toMatchObject({ ok: false, problem: 'bad_checkpoint_signature' });
  });
});

// SQLite explicitly: this edits the bytes of the database file, which only SQLite has.
describe('verify on a SQLite file', () => {
  let store: AuditTestDatabase;
  beforeEach(async () => {
    store = await freshAuditDatabase('sqlite');
    await seed(store);
  });
  afterEach(() => store.drop());

  it('reports a changed byte in the file at its row', async () => {
    // A compact copy: no free page still holding an older version of a row's page, so the marker
    // exists exactly once on disk.
    const file = join(dirname(store.db.url), 'compact.db');
    const written = new Database(store.db.url);
    written.prepare('VACUUM INTO ?').run(file);
    written.close();
    const original = readFileSync(file);
    // The marker can also linger in unused space of another page; flip the copy that is live,
    // i.e. the one that changes what SQLite returns for row 17.
    let flipped = false;
    for (let at = original.indexOf('marker#0017#'); at >= 0 && !flipped; at = original.indexOf('marker#0017#', at + 1)) {
      const bytes = Buffer.from(original);
      bytes[at + 'marker#00'.length] ^= 0x01; // '1' → '0'
      writeFileSync(file, bytes);
      const db = new Database(file, { readonly: true });
      flipped = (db.prepare('SELECT reason FROM audit_log WHERE seq = 17').get() as { reason: string }).reason === 'marker#0007#';
      db.close();
    }
    expect(flipped).toBe(true);
    expect(await verifyAuditChain(file, { secret: SECRET })).toMatchObject({ ok: false, firstBadSeq: 17, problem: 'hash_mismatch' });
  });
});
