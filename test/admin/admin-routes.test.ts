/**
 * The admin API over real HTTP (hono on @hono/node-server, port 0), mounted at /admin the way the
 * gateway mounts it, on a real database of the suite's store, with a live engine kept current through `onChange`.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPolicyChange } from '../../src/admin/apply-change.js';
import { createAdminKeyCheck, resolveAdminKey } from '../../src/admin/admin-key.js';
import { createPolicyAdmin } from '../../src/admin/policy-admin.js';
import { loadPolicyEngine, type LoadedPolicy } from '../../src/admin/policy-loader.js';
import { createAdminRoutes } from '../../src/gateway/admin-routes.js';
import { decideAsGate, T0, tempDatabase, type AdminTestDatabase } from './harness.js';

const KEY = 'k'.repeat(24) + '-admin-key-0123456789';
let db: AdminTestDatabase;
let server: ServerType;
let base: string;
let policy: LoadedPolicy;

beforeAll(async () => {
  db = await tempDatabase();
  const store = await db.open();
  policy = await loadPolicyEngine(store, { now: () => T0 });
  const admin = createPolicyAdmin({ store, now: () => T0, engine: policy.engine, onChange: (c) => applyPolicyChange(policy.index, c) });
  const root = new Hono();
  root.route('/admin', createAdminRoutes({ admin, key: KEY, maxBodyBytes: 4096 }));
  root.route('/off', createAdminRoutes({ admin, key: undefined }));
  server = await new Promise((resolve) => {
    const s = serve({ fetch: root.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await policy.close();
  await db?.cleanup();
});

async function api(method: string, path: string, body?: unknown, key: string | null = KEY) {
  const headers: Record<string, string> = {};
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? null : (JSON.parse(text) as any) };
}

describe('authentication', () => {
  it.each<[string, string | null]>([
    ['no key', null],
    ['a wrong key of the same length', KEY.slice(0, -1) + 'x'],
    ['a prefix of the key', KEY.slice(0, 10)],
    ['the key plus more', `${KEY}x`],
  ])('refuses %s with 401', async (_name, key) => {
    const res = await api('GET', '/admin/agents', undefined, key);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('unauthorized');
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
  });

  it('answers 401 before revealing which routes exist', async () => {
    expect((await api('GET', '/admin/no-such-thing', undefined, null)).status).toBe(401);
    expect((await api('GET', '/admin/no-such-thing')).status).toBe(404);
  });

  it('is disabled without a key, and refuses short keys when built', async () => {
    expect(await api('GET', '/off/agents')).toMatchObject({ status: 404, body: { error: 'admin_disabled' } });
    expect(() => createAdminKeyCheck('short')).toThrow('at least 32');
    expect(resolveAdminKey({}, { PORTCULLIS_ADMIN_KEY: KEY })).toBe(KEY);
    expect(resolveAdminKey({}, {})).toBeNull();
    expect(() => resolveAdminKey({}, { PORTCULLIS_ADMIN_KEY: 'short' })).toThrow('PORTCULLIS_ADMIN_KEY');
  });

  it('compares digests, so a check costs the same whatever the input', () => {
    const check = createAdminKeyCheck(KEY);
    expect(check(KEY)).toBe(true);
    expect(check(KEY.toUpperCase())).toBe(false);
    expect(check('')).toBe(false);
    expect(check(undefined)).toBe(false);
  });
});

describe('CRUD and explain', () => {
  it('creates an agent, grants, explains, revokes and explains again', async () => {
    const agent = await api('POST', '/admin/agents', { id: 'bot', name: 'deploy bot', tenant: 'acme' });
    expect(agent).toMatchObject({ status: 201, body: { id: 'bot', type: 'autonomous', status: 'active' } });
    expect((await api('GET', '/admin/agents?status=active')).body.items.map((a: { id: string }) => a.id)).toEqual(['bot']);

    const grant = await api('POST', '/admin/permissions', {
      agentId: 'bot',
      resource: 'mcp:github:*',
      constraints: { args: { '/repo': { pattern: 'acme/.*' } } },
    });
    expect(grant.status).toBe(201);
    const explainAllow = await api('POST', '/admin/explain', { agent: 'bot', server: 'github', tool: 'create_issue', args: { repo: 'acme/web' } });
    expect(explainAllow.status).toBe(200);
    expect(explainAllow.body).toMatchObject({ decision: { allow: true, grantIds: [grant.body.id] }, live: true });
    expect(explainAllow.body.hops[0].verdicts[0]).toMatchObject({ grantId: grant.body.id, outcome: 'chosen' });

    const explainArgs = await api('POST', '/admin/explain', { agent: 'bot', server: 'github', tool: 'create_issue', args: { repo: 'evil/x' } });
    expect(explainArgs.body.decision).toMatchObject({ allow: false, code: 'constraint_args' });

    // The live engine follows at once (the admin API path applies before answering).
    expect(policy.engine.decide({ agentId: 'bot', action: 'call', server: 'github', tool: 'x', args: { repo: 'acme/a' } }).allow).toBe(true);
    expect((await api('DELETE', `/admin/permissions/${grant.body.id}`)).status).toBe(204);
    expect(policy.engine.decide({ agentId: 'bot', action: 'call', server: 'github', tool: 'x', args: { repo: 'acme/a' } })).toMatchObject({ allow: false, code: 'no_permission' });
    const explainDeny = await api('POST', '/admin/explain', { agent: 'bot', server: 'github', tool: 'create_issue' });
    expect(explainDeny.body.decision).toMatchObject({ allow: false, code: 'no_permission' });

    expect((await api('POST', '/admin/agents/bot/suspend')).body.status).toBe('suspended');
    expect((await api('POST', '/admin/agents/bot/activate')).body.status).toBe('active');
  });

  it('delegates, budgets and deletes', async () => {
    await api('POST', '/admin/agents', { id: 'lead', name: 'lead' });
    await api('POST', '/admin/agents', { id: 'sub', name: 'sub', type: 'delegated' });
    await api('POST', '/admin/permissions', { id: 'lead-gh', agentId: 'lead', resource: 'mcp:github:*' });
    const link = await api('POST', '/admin/delegations', { parentAgentId: 'lead', childAgentId: 'sub', resources: ['mcp:github:list'] });
    expect(link).toMatchObject({ status: 201, body: { parentAgentId: 'lead', childAgentId: 'sub', clamped: false } });
    expect((await api('GET', '/admin/delegations?childAgentId=sub')).body.items).toHaveLength(1);
    await api('POST', '/admin/agents', { id: 'sub2', name: 'sub2', type: 'delegated' });
    const escalation = await api('POST', '/admin/delegations', { parentAgentId: 'lead', childAgentId: 'sub2', resources: ['mcp:github:list', 'mcp:**'] });
    expect(escalation).toMatchObject({ status: 400, body: { error: 'invalid_input', errors: [{ path: 'resources[1]', message: expect.stringContaining('wider') }] } });

    const budget = await api('PUT', '/admin/budgets', { scope: 'agent', subject: 'lead', metric: 'calls', limit: 2, period: 'day' });
    expect(budget).toMatchObject({ status: 200, body: { limit: 2, used: 0 } });
    await decideAsGate(policy.engine, { agentId: 'sub', action: 'call', server: 'github', tool: 'list', requestKey: 'q1' });
    expect((await api('GET', `/admin/budgets/${budget.body.id}`)).body.used).toBe(1);

    expect((await api('POST', `/admin/delegations/${link.body.id}/revoke`)).body.revokedAt).toBe(T0);
    expect((await api('DELETE', `/admin/budgets/${budget.body.id}`)).status).toBe(204);
    expect((await api('DELETE', '/admin/agents/sub')).status).toBe(204);
    expect((await api('GET', '/admin/agents/sub')).status).toBe(404);
  });
});

describe('errors', () => {
  it.each<[string, string, string, unknown, number, string, string | null]>([
    ['bad pattern', 'POST', '/admin/permissions', { agentId: 'bot', resource: 'mcp:github:get_*' }, 400, 'invalid_input', 'resource'],
    ['bad regex', 'POST', '/admin/permissions', { agentId: 'bot', resource: 'mcp:a:b', constraints: { args: { '/q': { pattern: '(?=x)' } } } }, 400, 'invalid_input', 'constraints.args["/q"].pattern'],
    ['unknown field', 'POST', '/admin/agents', { name: 'x', role: 'root' }, 400, 'invalid_input', ''],
    ['a delegation to an unknown child', 'POST', '/admin/delegations', { parentAgentId: 'lead', childAgentId: 'ghost', resources: ['mcp:github:list'] }, 400, 'invalid_input', 'childAgentId'],
    ['unknown agent in a grant', 'POST', '/admin/permissions', { agentId: 'ghost', resource: 'mcp:a:b' }, 404, 'not_found', 'agentId'],
    ['unknown permission', 'DELETE', '/admin/permissions/nope', undefined, 404, 'not_found', null],
    ['unknown agent in explain', 'POST', '/admin/explain', { agent: 'ghost', server: 'a', tool: 'b' }, 404, 'not_found', null],
    ['duplicate agent', 'POST', '/admin/agents', { id: 'bot', name: 'again' }, 409, 'conflict', null],
    ['bad status filter', 'GET', '/admin/agents?status=zombie', undefined, 400, 'invalid_input', null],
    ['malformed JSON', 'POST', '/admin/agents', '{"name": ', 400, 'invalid_json', null],
    ['a body over the cap', 'POST', '/admin/agents', { name: 'x'.repeat(5000) }, 413, 'body_too_large', null],
  ])('%s', async (_name, method, path, body, status, error, field) => {
    const res = await api(method, path, body);
    expect(res.status).toBe(status);
    expect(res.body.error).toBe(error);
    if (field !== null) expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field);
  });

  it('refuses a body that is not JSON with 415', async () => {
    const res = await fetch(`${base}/admin/agents`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'text/plain' }, body: 'name=x' });
    expect(res.status).toBe(415);
  });
});
