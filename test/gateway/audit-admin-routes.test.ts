/**
 * `/admin/audit` over real HTTP (hono on @hono/node-server, port 0), mounted under /admin as the
 * gateway mounts it, reading a real audit log written by the real audit writer on the suite's
 * store (SQLite file or Postgres database).
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminAuditRoutes } from '../../src/gateway/admin-audit-routes.js';
import { freshAuditDatabase, type AuditTestDatabase } from '../helpers/audit-store.js';
import { startGateway } from '../helpers/gateway.js';

const KEY = 'audit-admin-key-0123456789abcdef-xyz';
const SECRET = 'audit-test-secret-0123456789abcdef';
const T0 = Date.UTC(2026, 0, 31, 12, 0);
let store: AuditTestDatabase;
let empty: AuditTestDatabase;
let server: ServerType;
let base: string;

beforeAll(async () => {
  store = await freshAuditDatabase();
  empty = await freshAuditDatabase();
  const writer = store.writer({ secret: SECRET });
  await writer.ready();
  // 30 calls, a minute apart: agents a0..a2 in turn, every fifth one denied, the rest with an outcome.
  for (let i = 0; i < 30; i++) {
    const who = { agent: `a${i % 3}`, user: `u${i % 3}`, server: i % 2 ? 'github' : 'files', tool: i % 2 ? 'create_issue' : 'read' };
    const requestKey = `k${i}`;
    const time = T0 + i * 60_000;
    const decision = i % 5 === 0 ? 'deny' : 'allow';
    await writer.append({ kind: 'attempt', requestKey, time, decision, reason: decision === 'deny' ? 'no_permission' : null, requestId: i, ...who });
    if (decision === 'allow') await writer.append({ kind: 'outcome', requestKey, time: time + 5, status: 'ok', isError: false, latencyMs: 5, ...who });
  }
  await writer.close();
  const root = new Hono();
  root.get('/admin/other', (c) => c.text('not audit'));
  const reader = await store.reader();
  root.route('/admin', createAdminAuditRoutes({ reader, key: KEY }));
  root.route('/off', createAdminAuditRoutes({ reader, key: undefined }));
  root.route('/empty', createAdminAuditRoutes({ reader: await empty.reader(), key: KEY }));
  server = await new Promise((resolve) => {
    const s = serve({ fetch: root.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await store?.drop();
  await empty?.drop();
});

type Row = { seq: number; agent: string; kind: string; decision: string | null; time: number };

async function get(path: string, key: string | null = KEY) {
  const res = await fetch(`${base}${path}`, { headers: key === null ? {} : { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(5000) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function page(params: string) {
  const res = await get(`/admin/audit${params}`);
  expect(res.status, res.text).toBe(200);
  return JSON.parse(res.text) as { rows: Row[]; nextCursor: string | null };
}

describe('GET /admin/audit', () => {
  it.each<[string, string | null]>([
    ['no key', null],
    ['a wrong key of the same length', `${KEY.slice(0, -1)}x`],
    ['the key plus more', `${KEY}x`],
  ])('refuses %s with 401 and a Bearer challenge', async (_name, key) => {
    const res = await get('/admin/audit', key);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.text)).toMatchObject({ error: 'unauthorized' });
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
  });

  it('pages through every row with the cursor, oldest first, never repeating one', async () => {
    const seen: number[] = [];
    let cursor: string | null = '';
    for (let i = 0; i < 10 && cursor !== null; i++) {
      const p = await page(`?limit=20${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...p.rows.map((r) => r.seq));
      cursor = p.nextCursor;
    }
    expect(cursor).toBeNull();
    expect(seen).toEqual(Array.from({ length: 54 }, (_, i) => i + 1)); // 30 attempts + 24 outcomes
  });

  it.each([
    ['?agent=a1', 18, (r: Row) => r.agent === 'a1'],
    ['?decision=deny', 6, (r: Row) => r.decision === 'deny' && r.kind === 'attempt'],
    ['?server=github&tool=create_issue&decision=allow', 12, (r: Row) => r.decision === 'allow'],
    ['?user=u2&decision=allow', 8, (r: Row) => r.agent === 'a2'],
    // [T0+10 min, T0+20 min): calls 10..19 and their outcomes (10 and 15 denied).
    [`?from=${new Date(T0 + 600_000).toISOString()}&to=2026-01-31T12:20:00Z`, 18, (r: Row) => r.time >= T0 + 600_000 && r.time < T0 + 1_200_000],
    ['?from=2026-02-01', 0, () => false],
  ])('filters %s', async (params, count, check) => {
    const p = await page(params);
    expect(p.rows).toHaveLength(count);
    expect(p.rows.every(check)).toBe(true);
    expect(p.nextCursor).toBeNull();
  });

  it.each([
    ['?decision=maybe', 'decision: must be allow or deny'],
    ['?from=last-week', 'from: must be an ISO 8601 date'],
    ['?limit=5000', 'limit: must be an integer from 1 to 1000'],
    ['?cursor=-1', 'cursor: must be the nextCursor of a previous page'],
  ])('answers 400 for %s', async (params, message) => {
    const res = await get(`/admin/audit${params}`);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ error: 'invalid_input', message: expect.stringContaining(message) });
  });
});

describe('GET /admin/audit/export', () => {
  it('streams JSON Lines of the filtered rows', async () => {
    const res = await get('/admin/audit/export?format=jsonl&agent=a0');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="audit.jsonl"');
    const rows = res.text.trimEnd().split('\n').map((l) => JSON.parse(l) as Row);
    expect(rows).toHaveLength(18);
    expect(rows.every((r) => r.agent === 'a0')).toBe(true);
  });

  it('streams CSV with a header row', async () => {
    const res = await get('/admin/audit/export?format=csv');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/csv');
    const lines = res.text.split('\r\n').filter((l) => l !== '');
    expect(lines[0].startsWith('seq,time,kind,requestKey,')).toBe(true);
    expect(lines).toHaveLength(55);
  });

  it('answers 400 for an unknown format and 401 without the key', async () => {
    expect((await get('/admin/audit/export?format=xml')).status).toBe(400);
    expect((await get('/admin/audit/export?format=csv', null)).status).toBe(401);
  });
});

describe('mounting', () => {
  it('leaves other /admin paths to their own routes', async () => {
    expect(await get('/admin/other', null)).toMatchObject({ status: 200, text: 'not audit' });
  });

  it('answers 404 when no admin key is configured', async () => {
    const res = await get('/off/audit');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text)).toMatchObject({ error: 'admin_disabled' });
  });

  it('answers 404 no_audit_log for a database without one', async () => {
    for (const path of ['/empty/audit', '/empty/audit/export?format=csv']) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(JSON.parse(res.text)).toMatchObject({ error: 'no_audit_log' });
    }
  });
});

describe('mounted by the gateway', () => {
  it('answers /admin/audit beside the other admin routes, with the admin key', { timeout: 20_000 }, async () => {
    const gw = await startGateway({ admin: { key: KEY } });
    try {
      const call = async (path: string, key: string | null = KEY) => {
        const res = await fetch(`${gw.url}${path}`, { headers: key === null ? {} : { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(5000) });
        const text = await res.text();
        return { status: res.status, body: text === '' ? text : (JSON.parse(text.split('\n')[0]) as unknown) };
      };
      expect(await call('/admin/audit')).toEqual({ status: 200, body: { rows: [], nextCursor: null } });
      expect(await call('/admin/audit/export?format=jsonl')).toEqual({ status: 200, body: '' });
      expect((await call('/admin/audit', null)).status).toBe(401);
      expect((await call('/admin/agents')).status).toBe(200);
    } finally {
      await gw.close();
    }
  });
});
