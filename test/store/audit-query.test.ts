import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportAudit, queryAudit, type AuditQuery } from '../../src/store/audit-query.js';
import { createAuditWriter } from '../../src/store/audit-writer.js';

const SECRET = 'audit-test-secret-0123456789abcdef';
const T0 = 1_800_000_000_000;
let dir: string;
let db: Database.Database;

// 120 calls: agents a0..a2, servers github/files, every fifth denied; each allowed one answered.
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-audit-query-'));
  const file = join(dir, 'gateway.db');
  const w = createAuditWriter({ file, secret: SECRET });
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < 120; i++) {
    const deny = i % 5 === 0;
    const base = { requestKey: `q${i}`, agent: `a${i % 3}`, user: `u${i % 2}`, server: i % 2 ? 'github' : 'files', tool: i % 4 ? 'read' : '=cmd|calc' };
    pending.push(w.append({ kind: 'attempt', ...base, time: T0 + i * 1000, decision: deny ? 'deny' : 'allow', reason: deny ? 'no_permission' : null }));
    if (!deny) pending.push(w.append({ kind: 'outcome', ...base, time: T0 + i * 1000 + 5, status: 'ok', isError: false, latencyMs: 2, bytes: 100 }));
  }
  await Promise.all(pending);
  await w.close();
  db = new Database(file, { readonly: true });
});
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function all(query: AuditQuery): number[] {
  const seqs: number[] = [];
  let cursor: string | null = null;
  do {
    const page = queryAudit(db, { ...query, cursor, limit: 7 });
    seqs.push(...page.entries.map((e) => e.seq));
    cursor = page.nextCursor;
  } while (cursor);
  return seqs;
}

describe('queryAudit', () => {
  it.each<[string, AuditQuery, (r: Record<string, unknown>) => boolean]>([
    ['agent', { agent: 'a1' }, (r) => r.agent === 'a1'],
    ['user', { user: 'u0' }, (r) => r.user === 'u0'],
    ['server + tool', { server: 'github', tool: 'read' }, (r) => r.server === 'github' && r.tool === 'read'],
    ['decision', { decision: 'deny' }, (r) => r.decision === 'deny'],
    ['time range', { from: T0 + 10_000, to: T0 + 20_000 }, (r) => Number(r.time) >= T0 + 10_000 && Number(r.time) < T0 + 20_000],
    ['kind', { kind: 'outcome' }, (r) => r.kind === 'outcome'],
  ])('filters by %s and pages through every match exactly once', (_name, query, match) => {
    const expected = (db.prepare('SELECT * FROM audit_log ORDER BY seq').all() as Array<Record<string, unknown>>)
      .filter(match)
      .map((r) => Number(r.seq));
    expect(expected.length).toBeGreaterThan(7);
    expect(all(query)).toEqual(expected);
  });

  it('pages newest first with order desc, and maps columns to typed fields', () => {
    const page = queryAudit(db, { order: 'desc', limit: 3, kind: 'outcome' });
    expect(page.entries.map((e) => e.seq)).toEqual([...page.entries.map((e) => e.seq)].sort((a, b) => b - a));
    expect(page.entries[0]).toMatchObject({ kind: 'outcome', status: 'ok', isError: false, latencyMs: 2, bytes: 100 });
    const next = queryAudit(db, { order: 'desc', limit: 3, kind: 'outcome', cursor: page.nextCursor });
    expect(next.entries[0].seq).toBeLessThan(page.entries[2].seq);
  });

  it('refuses a malformed cursor', () => {
    expect(() => queryAudit(db, { cursor: '1 OR 1=1' })).toThrow(/cursor/);
  });
});

describe('exportAudit', () => {
  it('streams JSON Lines of every matching row', async () => {
    const out = await text(exportAudit(db, { agent: 'a2' }, 'jsonl'));
    const rows = out.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(rows.length).toBe(all({ agent: 'a2' }).length);
    expect(rows.every((r) => r.agent === 'a2')).toBe(true);
  });

  it('streams RFC 4180 CSV with a header, neutralising formula-looking text', async () => {
    const out = await text(exportAudit(db, { decision: 'deny' }, 'csv'));
    const lines = out.split('\r\n').filter(Boolean);
    expect(lines[0].split(',')).toContain('requestKey');
    expect(lines).toHaveLength(1 + 24);
    expect(out).toContain(",'=cmd|calc,");
    expect(out).not.toMatch(/,=cmd/);
  });
});
