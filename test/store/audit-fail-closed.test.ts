import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPortcullisError, type PortcullisError } from '../../src/errors.js';
import type { AuditAttempt } from '../../src/store/audit-record.js';
import { verifyAuditChain } from '../../src/store/audit-verify.js';
import { createAuditWriter, type AuditWriter } from '../../src/store/audit-writer.js';

/**
 * Fail-closed: when the store cannot take a record, `append` rejects with STORE_FAILURE (the
 * gateway then refuses the call), nothing is half-written, and the same writer works again as
 * soon as the store does, without a restart.
 */
const SECRET = 'audit-test-secret-0123456789abcdef';
const attempt = (key: string, extra: Partial<AuditAttempt> = {}): AuditAttempt => ({
  kind: 'attempt',
  requestKey: key,
  decision: 'allow',
  server: 's',
  tool: 't',
  ...extra,
});
const storeFailure = (e: unknown): boolean => isPortcullisError(e, 'STORE_FAILURE');

let dir: string;
let writer: AuditWriter | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-audit-fail-'));
});
afterEach(async () => {
  await writer?.close();
  writer = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('fail-closed', () => {
  it('rejects while another connection holds the write lock, and recovers when it is released', async () => {
    const file = join(dir, 'gateway.db');
    const failures: PortcullisError[] = [];
    writer = createAuditWriter({ file, secret: SECRET, busyTimeoutMs: 100, onFailure: (e) => failures.push(e) });
    expect(await writer.append(attempt('before'))).toEqual({ seq: 1 });

    const locker = new Database(file);
    locker.exec('BEGIN IMMEDIATE');
    const refused = await Promise.allSettled([writer.append(attempt('l1')), writer.append(attempt('l2'))]);
    expect(refused.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    for (const r of refused) expect(storeFailure((r as PromiseRejectedResult).reason)).toBe(true);
    expect((refused[0] as PromiseRejectedResult).reason.message).toMatch(/SQLITE_BUSY|locked/);
    expect(failures.length).toBeGreaterThan(0);

    locker.exec('ROLLBACK');
    locker.close();
    expect(await writer.append(attempt('after'))).toEqual({ seq: 2 }); // no gap: nothing half-written
    await writer.close();
    expect(await verifyAuditChain(file, { secret: SECRET })).toMatchObject({ ok: true, rows: 2 });
  });

  it('rejects while the database cannot be opened, and starts writing once it can', async () => {
    const parent = join(dir, 'data');
    writeFileSync(parent, 'not a directory'); // so data/gateway.db can never be created
    const file = join(parent, 'gateway.db');
    writer = createAuditWriter({ file, secret: SECRET });
    await expect(writer.ready()).rejects.toSatisfy(storeFailure);
    await expect(writer.append(attempt('a'))).rejects.toSatisfy(storeFailure);

    unlinkSync(parent);
    mkdirSync(parent);
    expect(await writer.append(attempt('b'))).toEqual({ seq: 1 });
    await writer.close();
    expect(await verifyAuditChain(file, { secret: SECRET })).toMatchObject({ ok: true, rows: 1 });
  });

  // A real full disk needs a tiny tmpfs, which only root with CAP_SYS_ADMIN can mount.
  const mountable = (() => {
    if (process.getuid?.() !== 0) return false;
    const probe = mkdtempSync(join(tmpdir(), 'portcullis-mount-probe-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
      execFileSync('umount', [probe], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    } finally {
      rmSync(probe, { recursive: true, force: true });
    }
  })();

  it.skipIf(!mountable)('rejects when the disk is full (tmpfs), and recovers once space is freed', async () => {
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
    try {
      const file = join(mnt, 'gateway.db');
      writer = createAuditWriter({ file, secret: SECRET });
      expect(await writer.append(attempt('first'))).toEqual({ seq: 1 });

      // Fill the rest of the filesystem.
      const filler = join(mnt, 'filler');
      const fd = openSync(filler, 'w');
      const block = Buffer.alloc(16 * 1024, 1);
      try {
        for (;;) writeSync(fd, block);
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
      } finally {
        closeSync(fd);
      }

      const big = { blob: 'x'.repeat(64 * 1024) };
      const refused = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => writer!.append(attempt(`full-${i}`, { arguments: big, storeArguments: true }))),
      );
      expect(refused.some((r) => r.status === 'rejected')).toBe(true);
      for (const r of refused) {
        if (r.status === 'rejected') {
          expect(storeFailure(r.reason)).toBe(true);
          expect(r.reason.message).toMatch(/SQLITE_FULL|full/i);
        }
      }

      unlinkSync(filler);
      const after = await writer.append(attempt('after', { arguments: big, storeArguments: true }));
      await writer.close();
      writer = undefined;
      const verdict = await verifyAuditChain(file, { secret: SECRET });
      expect(verdict).toMatchObject({ ok: true, head: { seq: after.seq } });
    } finally {
      await writer?.close();
      writer = undefined;
      execFileSync('umount', ['-l', mnt]);
    }
  });
});
