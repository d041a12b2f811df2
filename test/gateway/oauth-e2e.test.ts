/**
 * The official SDK v1 client's OAuth, unchanged, against the real gateway endpoint: discovery
 * from the 401, dynamic registration, login + consent, code + PKCE, token, then MCP calls; the
 * token is bound to the one server it was issued for, and never reaches the upstream.
 */
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/oauth/password.js';
import { freshDatabase, type TestDatabase } from '../helpers/database.js';
import { DEMO_STDIO, startGateway, type TestGateway } from '../helpers/gateway.js';
import { TestOAuthProvider } from '../helpers/oauth-provider.js';
import { FIXTURES, startFixture, type Fixture } from '../helpers/processes.js';

const USER = { username: 'alice', password: 'correct horse battery staple' };
let gw: TestGateway;
let upstream: Fixture;
let database: TestDatabase;
const dir = mkdtempSync(join(tmpdir(), 'portcullis-oauth-e2e-'));
const recorded = join(dir, 'requests.jsonl');

beforeAll(async () => {
  upstream = await startFixture(FIXTURES.v1Http, { env: { RECORD_IDS_FILE: recorded, RECORD_HEADERS: '1' } });
  // The suite's store: the authorization server's state on SQLite or on Postgres.
  database = await freshDatabase();
  gw = await startGateway({
    database: database.config,
    oauth: { enforceAuth: true, users: [{ username: USER.username, passwordHash: await hashPassword(USER.password, 1024) }] },
    // Every agent a consent creates may call every tool: this suite is about OAuth, not policy.
    agents: { defaultPermissions: [{ resource: 'mcp:**', actions: ['call', 'read', 'get', 'list'] }] },
    servers: { demo: DEMO_STDIO, legacy: { transport: 'http', url: upstream.url } },
  });
});

afterAll(async () => {
  await gw?.close();
  await upstream?.stop();
  await database?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the SDK's flow: connect → 401 → auth() redirects (the provider logs in) → finishAuth → connect. */
async function connectWithOAuth(url: string, provider: TestOAuthProvider): Promise<Client> {
  const first = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
  const client = new Client({ name: 'oauth-e2e', version: '1.0.0' });
  await expect(client.connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
  const code = provider.lastCode;
  expect(code).toBeTruthy();
  await first.finishAuth(code!);
  const authed = new Client({ name: 'oauth-e2e', version: '1.0.0' });
  await authed.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }));
  return authed;
}

describe('SDK v1 client OAuth through the gateway', () => {
  it('discovers, registers, authorizes and calls tools; the token stays at the gateway', async () => {
    const provider = new TestOAuthProvider({ credentials: USER });
    const client = await connectWithOAuth(gw.mcp('legacy'), provider);
    const result = await client.callTool({ name: 'echo', arguments: { text: 'authorized' } });
    expect(result.content).toEqual([{ type: 'text', text: 'authorized' }]);
    const token = provider.tokens()!.access_token;
    await client.close();
    // The upstream saw the calls but never the client's bearer token.
    const log = readFileSync(recorded, 'utf8');
    expect(log).toContain('tools/call');
    expect(log).not.toContain(token);
    expect(log.toLowerCase()).not.toContain('bearer');
  });

  it('binds the token to one server: a token for legacy is refused on demo (401 invalid_token)', async () => {
    const provider = new TestOAuthProvider({ credentials: USER });
    const client = await connectWithOAuth(gw.mcp('legacy'), provider);
    await client.close();
    const res = await fetch(gw.mcp('demo'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${provider.tokens()!.access_token}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(res.headers.get('www-authenticate')).toContain(`resource_metadata="${gw.url}/.well-known/oauth-protected-resource/mcp/demo"`);
    const body = (await res.json()) as { error: { code: number; message: string } };
    expect(body.error.code).toBe(-32013);
  });

  it('a revoked access token is refused on the next call; the SDK refreshes and carries on', async () => {
    const provider = new TestOAuthProvider({ credentials: USER });
    const client = await connectWithOAuth(gw.mcp('demo'), provider);
    await client.callTool({ name: 'echo', arguments: { text: 'cached now' } });
    const before = provider.tokens()!;
    const revoke = await fetch(`${gw.url}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: before.access_token, client_id: provider.clientInformation()!.client_id }),
    });
    expect(revoke.status).toBe(200);
    const result = await client.callTool({ name: 'echo', arguments: { text: 'still here' } });
    expect(result.content).toEqual([{ type: 'text', text: 'still here' }]);
    expect(provider.tokens()!.access_token).not.toBe(before.access_token);
    await client.close();
  });

  it('a session opened by one agent is 404 for another agent', async () => {
    const a = new TestOAuthProvider({ credentials: USER });
    const client = await connectWithOAuth(gw.mcp('demo'), a);
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId!;
    const b = new TestOAuthProvider({ credentials: USER });
    const other = await connectWithOAuth(gw.mcp('demo'), b);
    await other.close();
    const res = await fetch(gw.mcp('demo'), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${b.tokens()!.access_token}`,
        'mcp-session-id': sessionId,
        'mcp-protocol-version': '2025-11-25',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' }),
    });
    expect(res.status).toBe(404);
    await client.close();
  });
});
