/**
 * Querying and exporting the audit log through the AuditReader, on the suite's store (SQLite file
 * or Postgres, `PORTCULLIS_TEST_STORE`): filters, keyset paging, typed entries, CSV and JSONL.
 */
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditQuery } from '../../src/store/audit-query.js';
import type { AuditReader } from '../../src/store/audit-reader.js';
import { freshAuditDatabase, type AuditTestDatabase } from '../helpers/audit-store.js';

const SECRET = 'audit-test-secret-0123456789abcdef';
const T0 = 1_800_000_000_000;
let store: AuditTestDatabase;
let reader: AuditReader;
/** Every row as the database holds it, read with raw SQL beside the reader (the expected side). */
let raw: Array<Record<string, unknown>>;

// 120 calls: agents a0..a2, servers github/files, every fifth denied; each allowed one answered.
beforeAll(async () => {
  store = await freshAuditDatabase();
  const w = store.writer({ secret: SECRET });
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < 120; i++) {
    const deny = i % 5 === 0;
    const base = { requestKey: `q${i}`, agent: `a${i % 3}`, user: `u${i % 2}`, server: i % 2 ? 'github' : 'files', tool: i % 4 ? 'read' : '=cmd|calc' };
    pending.push(w.append({ kind: 'attempt', ...base, time: T0 + i * 1000, decision: deny ? 'deny' : 'allow', reason: deny ? 'no_permission' : null }));
    if (!deny) pending.push(w.append({ kind: 'outcome', ...base, time: T0 + i * 1000 + 5, status: 'ok', isError: false, latencyMs: 2, bytes: 100 }));
  }
  await Promise.all(pending);
  await w.close();
  reader = await store.reader();
  raw = await store.sql('SELECT * FROM audit_log ORDER BY seq');
});
afterAll(() => store?.drop());

async function all(query: AuditQuery): Promise<number[]> {
  const seqs: number[] = [];
  let cursor: string | null = null;
  do {
    const page = await reader.query({ ...query, cursor, limit: 7 });
    seqs.push(...page.entries.map((e) => e.seq));
    cursor = page.nextCursor;
  } while (cursor);
  return seqs;
}

describe('AuditReader.query', () => {
  it.each<[string, AuditQuery, (r: Record<string, unknown>) => boolean]>([
    ['agent', { agent: 'a1' }, (r) => r.agent === 'a1'],
    ['user', { user: 'u0' }, (r) => r.user === 'u0'],
    ['server + tool', { server: 'github', tool: 'read' }, (r) => r.server === 'github' && r.tool === 'read'],
    ['decision', { decision: 'deny' }, (r) => r.decision === 'deny'],
    ['time range', { from: T0 + 10_000, to: T0 + 20_000 }, (r) => Number(r.time) >= T0 + 10_000 && Number(r.time) < T0 + 20_000],
    ['kind', { kind: 'outcome' }, (r) => r.kind === 'outcome'],
  ])('filters by %s and pages through every match exactly once', async (_name, query, match) => {
    const expected = raw.filter(match).map((r) => Number(r.seq));
    expect(expected.length).toBeGreaterThan(7);
    expect(await all(query)).toEqual(expected);
  });

  it('pages newest first with order desc, and maps columns to typed fields', async () => {
    const page = await reader.query({ order: 'desc', limit: 3, kind: 'outcome' });
    expect(page.entries.map((e) => e.seq)).toEqual([...page.entries.map((e) => e.seq)].sort((a, b) => b - a));
    expect(page.entries[0]).toMatchObject({ kind: 'outcome', status: 'ok', isError: false, latencyMs: 2, bytes: 100, time: expect.any(Number) });
    const next = await reader.query({ order: 'desc', limit: 3, kind: 'outcome', cursor: page.nextCursor });
    expect(next.entries[0].seq).toBeLessThan(page.entries[2].seq);
  });

  it('refuses a malformed cursor', async () => {
    await expect(reader.query({ cursor: '1 OR 1=1' })).rejects.toThrow(/cursor/);
  });
});

describe('AuditReader.export', () => {
  it('streams JSON Lines of every matching row', async () => {
    const out = await text(reader.export({ agent: 'a2' }, 'jsonl'));
    const rows = out.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(rows.length).toBe((await all({ agent: 'a2' })).length);
    expect(rows.every((r) => r.agent === 'a2')).toBe(true);
  });

  it('streams RFC 4180 CSV with a header, neutralising formula-looking text', async () => {
    const out = await text(reader.export({ decision: 'deny' }, 'csv'));
    const lines = out.split('\r\n').filter(Boolean);
    expect(lines[0].split(',')).toContain('requestKey');
    expect(lines).toHaveLength(1 + 24);
    expect(out).toContain(",'=cmd|calc,");
    expect(out).not.toMatch(/,=cmd/);
  });
});
