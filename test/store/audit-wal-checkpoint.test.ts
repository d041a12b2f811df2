import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuditWriter, type AuditWriter } from '../../src/store/audit-writer.js';
import { AUDIT_WAL_CHECKPOINT_PAGES } from '../../src/store/audit-db.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';

/**
 * Who copies the shared WAL into the database file: the audit writer, on its thread, once per
 * AUDIT_WAL_CHECKPOINT_PAGES; never the gateway's own connection on the event loop while the
 * writer is there. Observed from the files: a checkpoint grows the database file; the WAL file
 * only grows while nothing checkpoints it.
 */
const PAGE = 4096;
const SECRET = 'audit-test-secret-0123456789abcdef';

let dir: string;
let file: string;
let store: Store | undefined;
let writer: AuditWriter | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-wal-'));
  file = join(dir, 'gateway.db');
});
afterEach(async () => {
  await writer?.close();
  await store?.close();
  store = undefined;
  writer = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const size = (f: string) => statSync(f).size;

/** One transaction per record, as at one call at a time: many frames for few rows. */
async function appendOneByOne(w: AuditWriter, n: number, from = 0): Promise<void> {
  for (let i = from; i < from + n; i++) {
    await w.append({ kind: 'attempt', requestKey: `k${i}`, decision: 'allow', agent: `agent-${i % 50}`, server: 's', tool: `t${i % 7}` });
  }
}

describe('WAL checkpoints', () => {
  it('the audit writer lets the WAL pass SQLite’s 1000 pages, and the gateway’s connection does not checkpoint it', async () => {
    store = await openStore({ provider: 'sqlite', url: file, skipMigrations: false });
    writer = createAuditWriter({ file, secret: SECRET });
    await writer.ready();
    const dbBefore = size(file);

    let frames = 0;
    for (let round = 0; frames <= 1500 && round < 20; round++) {
      await appendOneByOne(writer, 200, round * 200);
      frames = size(`${file}-wal`) / (PAGE + 24);
    }
    // With SQLite's default the WAL would have been reset at ~1000 frames and the file stay there.
    expect(frames).toBeGreaterThan(1500);
    expect(frames).toBeLessThan(AUDIT_WAL_CHECKPOINT_PAGES);
    expect(size(file)).toBe(dbBefore);

    // A write on the gateway's own connection (the event loop) leaves the checkpoint alone.
    await store.meta.setIfAbsent('wal-test', 'x');
    expect(size(file)).toBe(dbBefore);
  });

  it('the audit writer checkpoints once its window is full, so the WAL stays bounded', async () => {
    writer = createAuditWriter({ file, secret: SECRET, batchSize: 1 });
    await writer.ready();
    const dbBefore = size(file);
    const walCap = (AUDIT_WAL_CHECKPOINT_PAGES + 200) * (PAGE + 24);
    let i = 0;
    while (size(file) === dbBefore) {
      // Many small transactions at once: each of batchSize 1, so frames pile up quickly.
      await Promise.all(Array.from({ length: 400 }, (_, j) => writer!.append({ kind: 'attempt', requestKey: `c${i + j}`, decision: 'allow', server: 's', tool: 't' })));
      i += 400;
      expect(size(`${file}-wal`)).toBeLessThan(walCap);
      expect(i).toBeLessThan(200_000); // a checkpoint that never comes fails here, not by timeout
    }
    expect(size(file)).toBeGreaterThan(dbBefore);
  }, 120_000);
});
