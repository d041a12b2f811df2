import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashAuditRow } from '../../src/store/audit-chain.js';
import { verifyAuditChain } from '../../src/store/audit-verify.js';
import { createAuditWriter } from '../../src/store/audit-writer.js';

const SECRET = 'audit-test-secret-0123456789abcdef';
const ROWS = 30;
let dir: string;
let pristine: string;
let n = 0;

/** A private copy of the pristine log to tamper with. */
function copy(): string {
  const target = join(dir, `copy-${n++}.db`);
  copyFileSync(pristine, target);
  return target;
}

function withDb(file: string, fn: (db: Database.Database) => void): void {
  const db = new Database(file);
  try {
    fn(db);
  } finally {
    db.close(); // last connection: SQLite folds the WAL back into the file
  }
}

const verify = (file: string) => verifyAuditChain(file, { secret: SECRET });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-audit-tamper-'));
  const written = join(dir, 'written.db');
  pristine = join(dir, 'pristine.db');
  // checkpointEvery 10 with three sequential groups → signed head checkpoints at 10, 20 and 30.
  const w = createAuditWriter({ file: written, secret: SECRET, checkpointEvery: 10 });
  for (let g = 0; g < 3; g++) {
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => {
        const k = g * 10 + i + 1;
        const key = String(k).padStart(4, '0');
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
  // A compact copy: no free page still holding an older version of a row's page, so the marker
  // below exists exactly once on disk.
  withDb(written, (db) => db.prepare('VACUUM INTO ?').run(pristine));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('verifyAuditChain', () => {
  it('accepts the untouched log', async () => {
    expect(await verify(copy())).toMatchObject({ ok: true, rows: ROWS, checkpointedThrough: ROWS });
  });

  it('reports a changed byte in the file at its row', async () => {
    const file = copy();
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
    expect(await verify(file)).toMatchObject({ ok: false, firstBadSeq: 17, problem: 'hash_mismatch' });
  });

  it('reports a value edited through SQL at its row', async () => {
    const file = copy();
    withDb(file, (db) => db.prepare("UPDATE audit_log SET tool = 'write' WHERE seq = 5").run());
    expect(await verify(file)).toMatchObject({ ok: false, firstBadSeq: 5, problem: 'hash_mismatch' });
  });

  it('reports a deleted middle row at its seq', async () => {
    const file = copy();
    withDb(file, (db) => db.prepare('DELETE FROM audit_log WHERE seq = 12').run());
    expect(await verify(file)).toMatchObject({ ok: false, firstBadSeq: 12, problem: 'missing_row' });
  });

  it('reports two swapped rows at the first of them', async () => {
    const file = copy();
    withDb(file, (db) => {
      db.transaction(() => {
        db.prepare('UPDATE audit_log SET seq = -1 WHERE seq = 20').run();
        db.prepare('UPDATE audit_log SET seq = 20 WHERE seq = 21').run();
        db.prepare('UPDATE audit_log SET seq = 21 WHERE seq = -1').run();
      })();
    });
    expect(await verify(file)).toMatchObject({ ok: false, firstBadSeq: 20, problem: 'prev_hash_mismatch' });
  });

  it('reports a truncated tail at the first missing seq, through the signed head checkpoint', async () => {
    const file = copy();
    withDb(file, (db) => db.prepare('DELETE FROM audit_log WHERE seq > 25').run());
    expect(await verify(file)).toMatchObject({ ok: false, firstBadSeq: 26, problem: 'truncated' });
  });

  it('reports a chain rewritten with recomputed hashes after the last checkpoint that still matches', async () => {
    const file = copy();
    withDb(file, (db) => {
      const rows = db.prepare('SELECT * FROM audit_log WHERE seq >= 15 ORDER BY seq').all() as Array<
        Record<string, string | number | null>
      >;
      let prev = String((db.prepare('SELECT hash FROM audit_log WHERE seq = 14').get() as { hash: string }).hash);
      const update = db.prepare('UPDATE audit_log SET tool = ?, prev_hash = ?, hash = ? WHERE seq = ?');
      for (const row of rows) {
        const forged = { ...row, tool: row.seq === 15 ? 'delete' : row.tool };
        const hash = hashAuditRow(forged, prev);
        update.run(forged.tool, prev, hash, row.seq);
        prev = hash;
      }
    });
    expect(await verify(file)).toMatchObject({ ok: false, firstBadSeq: 11, problem: 'checkpoint_mismatch' });
  });

  it('reports a checkpoint that was not signed with the secret', async () => {
    const file = copy();
    withDb(file, (db) => db.prepare("UPDATE audit_checkpoints SET seq = 8 WHERE kind = 'head' AND seq = 10").run());
    expect(await verify(file)).toMatchObject({ ok: false, firstBadSeq: 8, problem: 'bad_checkpoint_signature' });
  });

  it('cannot verify checkpoints under another secret', async () => {
    const result = await verifyAuditChain(copy(), { secret: 'another-secret-of-32-characters!!' });
    expect(result).toMatchObject({ ok: false, problem: 'bad_checkpoint_signature' });
  });
});
