/**
 * The aggregated endpoint `/mcp` through a real gateway: two stdio upstreams (one paging its
 * tools) and the 2026-era SDK v2 HTTP fixture, driven by SDK v1 (2025 session) and SDK v2 pinned
 * to 2026-07-28. Merged lists (tools, resources, templates, prompts) filtered by the agent's
 * grants, routed calls with per-server policy, resources and prompts namespaced both ways,
 * pagination across servers, list_changed merged, cache hints for 2026-07-28 clients, one upstream
 * killed while the others serve, and naming problems refused at start-up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { createGateway } from '../../src/gateway/create-gateway.js';
import type { Authenticator } from '../../src/gateway/mcp-endpoint.js';
import { createLogger } from '../../src/logger.js';
import { connectV1, connectV2, MODERN_PROTOCOL_VERSION } from '../helpers/clients.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { FIXTURES, startFixture, type Fixture } from '../helpers/processes.js';
import { agent, buildPolicy } from '../policy/build-policy.js';

const SHIFTY = fileURLToPath(new URL('../fixtures/shifty-tools.mjs', import.meta.url));
const shifty = (name: string, env: Record<string, string> = {}, extra: object = {}) => ({ transport: 'stdio' as const, command: process.execPath, args: [SHIFTY], env: { SHIFTY_NAME: name, ...env }, ...extra });

const agentHeader: Authenticator = (req) => {
  const id = String(req.headers['x-test-agent'] ?? 'nobody');
  return { ok: true, principal: `agent:${id}`, identity: { key: `agent:${id}`, agentId: id, subject: `user-${id}`, clientId: 'test', scopes: ['mcp'], jti: id, expiresAt: Number.MAX_SAFE_INTEGER, tenant: 't1' } };
};

const policy = buildPolicy({
  now: Date.now(),
  agents: [agent('reader'), agent('admin')],
  grants: {
    admin: [{ id: 'admin-all', resource: 'mcp:**', actions: ['call', 'read', 'get'] }],
    reader: [
      { id: 'alpha-all', resource: 'mcp:alpha:*', actions: ['call', 'get'] },
      { id: 'beta-whoami', resource: 'mcp:beta:whoami', actions: ['call'] },
      { id: 'beta-read', resource: 'mcp:beta:**', actions: ['read'] },
      { id: 'web-echo', resource: 'mcp:web:echo', actions: ['call'] },
    ],
  },
});

let gw: TestGateway;
let web: Fixture;
const headers = { 'x-test-agent': 'reader' };

beforeAll(async () => {
  web = await startFixture(FIXTURES.v2Http);
  gw = await startGateway(
    {
      servers: {
        alpha: shifty('alpha'),
        beta: shifty('beta', { TOOLS_PAGE_SIZE: '2' }, { prefix: 'b' }),
        web: { transport: 'http', url: web.url, timeoutMs: 5_000 },
      },
      federation: { listTtlMs: 5_000 },
    },
    { authenticate: agentHeader, policy: policy.engine },
  );
});

afterAll(async () => {
  await gw?.close();
  await web?.stop();
});

const aggregate = () => `${gw.url}/mcp`;

async function allTools(list: (cursor?: string) => Promise<{ tools: { name: string }[]; nextCursor?: string }>): Promise<{ names: string[]; pages: number }> {
  const names: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await list(cursor);
    pages++;
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor !== undefined && pages < 10);
  return { names: names.sort(), pages };
}

describe('/mcp, every server behind one endpoint', () => {
  it('merges tools filtered by grants, paging each upstream with one opaque cursor (SDK v1)', async () => {
    const c = await connectV1(aggregate(), { headers });
    const { names, pages } = await allTools((cursor) => c.client.listTools(cursor === undefined ? {} : { cursor }));
    expect(names).toEqual(['alpha__echo', 'alpha__weather', 'alpha__whoami', 'b__whoami', 'web__echo']);
    expect(pages).toBe(2); // beta pages by two: its third tool comes on the second merged page
    await c.close();
  });

  it('routes calls to the right upstream with per-server policy and pins', async () => {
    const c = await connectV1(aggregate(), { headers });
    await c.client.listTools();
    expect(await c.client.callTool({ name: 'alpha__weather', arguments: { city: 'Oslo' } })).toMatchObject({ content: [{ text: 'sunny in Oslo' }] });
    expect(await c.client.callTool({ name: 'b__whoami', arguments: {} })).toMatchObject({ content: [{ text: 'beta' }] });
    expect(await c.client.callTool({ name: 'web__echo', arguments: { text: 'hi' } })).toMatchObject({ content: [{ text: 'hi' }] });
    const denied = await c.client.callTool({ name: 'b__echo', arguments: { text: 'x' } }).catch((e: { code: number; data: { reason: string } }) => e);
    expect(denied).toMatchObject({ code: -32015, data: { reason: 'no_permission' } });
    const invalid = await c.client.callTool({ name: 'alpha__weather', arguments: { city: 7 } }).catch((e: { code: number; data: { reason: string } }) => e);
    expect(invalid).toMatchObject({ code: -32015, data: { reason: 'schema_violation' } });
    const unknown = await c.client.callTool({ name: 'nowhere__x', arguments: {} }).catch((e: { code: number; message: string }) => e);
    expect(unknown).toMatchObject({ code: -32602 });
    await c.close();
  });

  it('namespaces resources, templates and prompts, lists only what the grants allow, and translates them back', async () => {
    const c = await connectV1(aggregate(), { headers });
    // `read` is granted on beta only: alpha's and web's resources and templates are not listed.
    const resources = (await c.client.listResources()).resources.map((r) => r.uri).sort();
    expect(resources).toEqual(['beta+beta://readme']);
    expect((await c.client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toEqual(['beta+beta://notes/{id}']);
    const read = await c.client.readResource({ uri: 'beta+beta://readme' });
    expect(read.contents).toEqual([{ uri: 'beta+beta://readme', mimeType: 'text/plain', text: 'beta says hello from beta://readme' }]);
    const noGrant = await c.client.readResource({ uri: 'alpha+alpha://readme' }).catch((e: { code: number }) => e);
    expect(noGrant).toMatchObject({ code: -32015 });
    // `get` is granted on alpha only: beta's and web's prompts are not listed, and stay denied.
    expect((await c.client.listPrompts()).prompts.map((p) => p.name)).toEqual(['alpha__greet']);
    expect(await c.client.getPrompt({ name: 'alpha__greet', arguments: { who: 'Ada' } })).toMatchObject({ messages: [{ content: { text: 'alpha greets Ada' } }] });
    const unlisted = await c.client.getPrompt({ name: 'b__greet', arguments: { who: 'Ada' } }).catch((e: { code: number; data: { reason: string } }) => e);
    expect(unlisted).toMatchObject({ code: -32015, data: { reason: 'no_permission' } });
    await c.close();
  });

  it('lists every prompt and resource to an agent granted them all', async () => {
    const c = await connectV1(aggregate(), { headers: { 'x-test-agent': 'admin' } });
    expect((await c.client.listPrompts()).prompts.map((p) => p.name).sort()).toEqual(['alpha__greet', 'b__greet', 'web__greet']);
    expect((await c.client.listResources()).resources.map((r) => r.uri).sort()).toEqual(['alpha+alpha://readme', 'beta+beta://readme', 'web+demo://readme']);
    await c.close();
  });

  it('passes an upstream list_changed on to 2025-era clients', async () => {
    const c = await connectV1(aggregate(), { headers });
    const changed = new Promise<void>((resolve) => c.client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    // Let the client's standalone GET stream open before the upstream speaks.
    await new Promise((r) => setTimeout(r, 200));
    await c.client.callTool({ name: 'alpha__whoami', arguments: {} });
    await Promise.race([changed, new Promise((_, reject) => setTimeout(() => reject(new Error('no list_changed within 5 s')), 5000))]);
    await c.close();
  });

  it('serves 2026-07-28 clients statelessly, with cache hints on merged lists (SDK v2)', async () => {
    const c = await connectV2(aggregate(), { headers, era: 'modern' });
    const { names } = await allTools((cursor) => c.client.listTools(cursor === undefined ? {} : { cursor }));
    expect(names).toEqual(['alpha__echo', 'alpha__weather', 'alpha__whoami', 'b__whoami', 'web__echo']);
    expect(await c.client.callTool({ name: 'web__echo', arguments: { text: 'modern' } })).toMatchObject({ content: [{ text: 'modern' }] });
    await c.close();
    // `web` speaks 2026-07-28 and asks that its lists not be cached (ttlMs 0): a merged list keeps the least.
    expect(await modernList(aggregate(), 'tools/list')).toMatchObject({ result: { resultType: 'complete', ttlMs: 0, cacheScope: 'private' } });
    // Otherwise complete merged lists carry the configured hint (federation.listTtlMs), private: they are per agent.
    const stdioOnly = await startGateway({ servers: { alpha: shifty('alpha') }, federation: { listTtlMs: 5_000 } }, { authenticate: agentHeader, policy: policy.engine });
    try {
      expect(await modernList(`${stdioOnly.url}/mcp`, 'prompts/list')).toMatchObject({ result: { resultType: 'complete', ttlMs: 5_000, cacheScope: 'private', prompts: [{ name: 'alpha__greet' }] } });
      expect(await modernList(`${stdioOnly.url}/mcp`, 'tools/list')).toMatchObject({ result: { ttlMs: 5_000, cacheScope: 'private' } });
    } finally {
      await stdioOnly.close();
    }
  });

  it('keeps serving when one upstream dies, naming it in lists, errors and /healthz', async () => {
    await web.kill();
    const c = await connectV1(aggregate(), { headers });
    const page = await c.client.listTools();
    expect(page.tools.map((t) => t.name)).toContain('alpha__weather');
    expect(page.tools.map((t) => t.name)).not.toContain('web__echo');
    expect(page._meta).toMatchObject({ 'portcullis/unavailable': ['web'] });
    const failed = await c.client.callTool({ name: 'web__echo', arguments: { text: 'x' } }).catch((e: { message: string }) => e);
    expect(failed).toMatchObject({ message: expect.stringContaining('web') });
    expect(await c.client.callTool({ name: 'alpha__echo', arguments: { text: 'alive' } })).toMatchObject({ content: [{ text: 'alive' }] });
    const health = (await (await fetch(`${gw.url}/healthz`)).json()) as { aggregate: { name: string; state: string }[] };
    expect(health.aggregate.find((s) => s.name === 'web')).toMatchObject({ state: 'down' });
    // A list missing a server may not be reused: its items come back as soon as the server does.
    expect(await modernList(aggregate(), 'prompts/list')).toMatchObject({ result: { ttlMs: 0, _meta: { 'portcullis/unavailable': ['web'] } } });
    await c.close();
  });
});

/** A raw 2026-07-28 list request to `/mcp` (the SDK does not expose the cache hints). */
async function modernList(url: string, method: string): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN_PROTOCOL_VERSION, 'mcp-method': method },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION, 'io.modelcontextprotocol/clientInfo': { name: 't', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} } } }),
  });
  return res.json();
}

describe('/mcp as an OAuth protected resource', () => {
  it('challenges with its own RFC 9728 metadata, whose resource is {baseUrl}/mcp', async () => {
    const g = await startGateway({ oauth: { enforceAuth: true }, servers: { alpha: shifty('alpha') } });
    try {
      const res = await fetch(`${g.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
      expect(res.status).toBe(401);
      const challenge = res.headers.get('www-authenticate') ?? '';
      expect(challenge).toContain(`resource_metadata="${g.url}/.well-known/oauth-protected-resource/mcp"`);
      const metadata = (await (await fetch(`${g.url}/.well-known/oauth-protected-resource/mcp`)).json()) as { resource: string };
      expect(metadata.resource).toBe(`${g.url}/mcp`);
    } finally {
      await g.close();
    }
  });
});

describe('/mcp naming refused at start-up', () => {
  it.each([
    ['the same prefix twice', { one: shifty('one', {}, { prefix: 'x' }), two: shifty('two', {}, { prefix: 'x' }) }, /prefixes "x__" and "x__" overlap/],
    ['a tool offered twice without prefixes', { one: shifty('one', {}, { prefix: false }), two: shifty('two', {}, { prefix: false }) }, /"weather" is offered by both one and two; remove "prefix: false" from servers.two/],
  ])('%s', async (_name, servers, message) => {
    const config = parseConfig({ port: 0, logging: { level: 'silent' }, database: { provider: 'sqlite', url: ':memory:' }, servers });
    await expect(createGateway({ config, logger: createLogger('silent') })).rejects.toThrow(message);
  });
});
