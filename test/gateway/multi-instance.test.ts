/**
 * Two gateway processes (the real binary) on one Postgres database behave as one gateway: a budget
 * holds exactly across both, a grant revoked through A is refused on B within a second, an MCP
 * session opened on A continues on B, and an authorization code issued by A redeems on B with
 * the token working on both. Runs when a test cluster is there (PORTCULLIS_TEST_PG_URL); build
 * first (`npm run build`).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/oauth/password.js';
import { runCli } from '../helpers/cli.js';
import { CLIENT_INFO, connectV1, connectV2 } from '../helpers/clients.js';
import { PG_URL } from '../helpers/database.js';
import { chainBreaks, readPgAudit } from '../helpers/pg-audit.js';
import { startInstances, type GatewayInstance, type Instances } from '../helpers/instances.js';
import { TestOAuthProvider } from '../helpers/oauth-provider.js';
import { FIXTURES, startFixture, type Fixture } from '../helpers/processes.js';

const ADMIN_KEY = 'multi-instance-admin-key-0123456789abcdef';
const SECRET = 'multi-instance-gateway-secret-0123456789abcdef';
const BOT_SECRET = 'multi-instance-bot-secret-0123456789abcdef';
const USER = { username: 'alice', password: 'correct horse battery staple' };
/** Machine agents, one per case, each acting through its own client_credentials client. */
const BOTS = ['spender', 'revokee', 'sessioner', 'intruder'] as const;
type Bot = (typeof BOTS)[number];

let cluster: Instances;
let a: GatewayInstance;
let b: GatewayInstance;
let upstream: Fixture;
/** How many calls of the budget burst were allowed (the audit case checks the log says the same). */
let burstAllowed = -1;
// Made in beforeAll: a skipped suite leaves nothing behind.
let dir: string;
let recorded: string;

describe.skipIf(!PG_URL)('several gateway processes on one Postgres', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-multi-instance-'));
    recorded = join(dir, 'requests.jsonl');
    upstream = await startFixture(FIXTURES.v1Http, { env: { RECORD_IDS_FILE: recorded } });
    const passwordHash = await hashPassword(USER.password, 1024);
    cluster = await startInstances({
      count: 2,
      // Starting together is its own case below; here a start-up race must not hide the rest.
      sequential: true,
      config: () => ({
        secret: SECRET,
        admin: { key: ADMIN_KEY },
        oauth: {
          users: [{ username: USER.username, passwordHash }],
          preRegisteredClients: BOTS.map((bot) => ({ clientId: `${bot}-bot`, clientSecret: BOT_SECRET, grantTypes: ['client_credentials'] })),
        },
        // What a consenting user's agent may do (the OAuth case); the bots' grants are their own.
        agents: {
          defaultPermissions: [{ resource: 'mcp:legacy:slow_count', actions: ['call'] }],
          declared: {
            agents: BOTS.map((bot) => ({ id: bot, name: bot, clientId: `${bot}-bot` })),
            permissions: [
              { id: 'spender-legacy', agentId: 'spender', resource: 'mcp:legacy:echo', actions: ['call'] },
              { id: 'sessioner-legacy', agentId: 'sessioner', resource: 'mcp:legacy:*', actions: ['call'] },
              { id: 'intruder-legacy', agentId: 'intruder', resource: 'mcp:legacy:*', actions: ['call'] },
            ],
            budgets: [{ id: 'spender-ten', scope: 'agent', subject: 'spender', metric: 'calls', limit: 10, period: 'day' }],
          },
        },
        servers: { legacy: { transport: 'http', url: upstream.url } },
      }),
    });
    [a, b] = cluster.instances;
  }, 90_000);

  afterAll(async () => {
    await cluster?.close();
    await upstream?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a calls budget of 10 holds across both: 64 concurrent calls split over A and B forward exactly 10', async () => {
    const token = await botToken(a, 'spender');
    const clients = await Promise.all(
      Array.from({ length: 8 }, (_, i) => connectV1((i % 2 ? b : a).mcp('legacy'), { headers: bearer(token) })),
    );
    const before = upstreamCalls();
    const results = await Promise.allSettled(
      Array.from({ length: 64 }, (_, i) => clients[i % 8].client.callTool({ name: 'echo', arguments: { text: `call ${i}` } })),
    );
    const forwarded = upstreamCalls() - before;
    const ok = results.filter((r) => r.status === 'fulfilled');
    burstAllowed = ok.length;
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as McpError);
    const messages = [...new Set(refused.map((e) => e.message))];
    console.log(`budget across 2 instances: ${ok.length} allowed, ${refused.length} refused, ${forwarded} forwarded; refusals said: ${messages.join(' | ')}`);
    for (const e of refused) expect({ code: e.code, data: e.data }).toEqual({ code: -32015, data: { reason: 'budget_exhausted' } });
    expect(ok).toHaveLength(10);
    expect(refused).toHaveLength(54);
    expect(forwarded).toBe(10);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('a grant revoked through A is refused on B within a second', async () => {
    const grant = await admin<{ id: string }>(a, 'POST', '/permissions', { agentId: 'revokee', resource: 'mcp:legacy:echo', actions: ['call'] });
    const token = await botToken(a, 'revokee');
    const onB = await connectV1(b.mcp('legacy'), { headers: bearer(token) });
    // Allowed on B once B has seen the grant (it was made through A), and its decision is now cached there.
    await eventually(() => onB.client.callTool({ name: 'echo', arguments: { text: 'before' } }), 5_000);

    await admin(a, 'DELETE', `/permissions/${grant.id}`);
    const revokedAt = performance.now();
    let refusal: McpError | undefined;
    while (!refusal && performance.now() - revokedAt < 5_000) {
      refusal = await onB.client.callTool({ name: 'echo', arguments: { text: 'after' } }).then(
        () => undefined,
        (e: unknown) => e as McpError,
      );
      if (!refusal) await sleep(10);
    }
    const elapsed = performance.now() - revokedAt;
    console.log(`revoke through A refused on B after ${elapsed.toFixed(0)} ms`);
    expect(refusal).toBeInstanceOf(McpError);
    expect(refusal!.data).toEqual({ reason: 'no_permission' });
    expect(elapsed).toBeLessThan(1_000);
    await onB.close();
  });

  it('a grant revoked by the CLI (another process, on the shared database) is refused on A and B within a second', async () => {
    // echo: slow_count is every agent's by default (agents.defaultPermissions) and would stay allowed.
    const grant = await admin<{ id: string }>(a, 'POST', '/permissions', { agentId: 'revokee', resource: 'mcp:legacy:echo', actions: ['call'] });
    const token = await botToken(b, 'revokee');
    const clients = [await connectV1(a.mcp('legacy'), { headers: bearer(token) }), await connectV1(b.mcp('legacy'), { headers: bearer(token) })];
    const count = (c: (typeof clients)[number]) => c.client.callTool({ name: 'echo', arguments: { text: 'cli' } });
    for (const c of clients) await eventually(() => count(c), 5_000);

    const revoke = await runCli(['revoke', grant.id, '--config', cluster.configFile], { timeoutMs: 20_000 });
    expect({ code: revoke.code, stderr: revoke.stderr }).toEqual({ code: 0, stderr: '' });
    const revokedAt = performance.now();
    const elapsed = await Promise.all(
      clients.map(async (c) => {
        let refusal: McpError | undefined;
        while (!refusal && performance.now() - revokedAt < 5_000) {
          refusal = await count(c).then(() => undefined, (e: unknown) => e as McpError);
          if (!refusal) await sleep(10);
        }
        expect(refusal?.data).toEqual({ reason: 'no_permission' });
        return performance.now() - revokedAt;
      }),
    );
    console.log(`CLI revoke refused on A after ${elapsed[0].toFixed(0)} ms, on B after ${elapsed[1].toFixed(0)} ms (from the CLI's exit)`);
    for (const ms of elapsed) expect(ms).toBeLessThan(1_000);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('an MCP session opened on A continues on B, for the same identity only', async () => {
    const token = await botToken(a, 'sessioner');
    const onA = await connectV2(a.mcp('legacy'), { headers: bearer(token) });
    expect(onA.client.getProtocolEra()).toBe('legacy');
    const sessionId = onA.transport.sessionId;
    expect(sessionId).toBeTruthy();
    expect((await onA.client.callTool({ name: 'echo', arguments: { text: 'on A' } })).content).toEqual([{ type: 'text', text: 'on A' }]);

    // The SDK skips `initialize` when its transport already has a session id: a client moved to B.
    const moved = new Client(CLIENT_INFO);
    await moved.connect(new StreamableHTTPClientTransport(new URL(b.mcp('legacy')), { sessionId, requestInit: { headers: bearer(token) } }));
    const onB = await moved.callTool({ name: 'echo', arguments: { text: 'on B' } });
    expect(onB.content).toEqual([{ type: 'text', text: 'on B' }]);

    // The same session id with another agent's token is not found on B (sessions are bound to who opened them).
    const intruder = await botToken(a, 'intruder');
    const stolen = await rpc(b.mcp('legacy'), { authorization: `Bearer ${intruder}`, 'mcp-session-id': sessionId! }, { method: 'tools/call', params: { name: 'echo', arguments: { text: 'stolen' } } });
    expect(stolen.status).toBe(404);
    await moved.close();
    await onA.close();
  });

  it('an MCP session ended on B (DELETE) is gone on A too within a second (A rechecks a shared session once a second)', async () => {
    const token = await botToken(a, 'sessioner');
    const onA = await connectV1(a.mcp('legacy'), { headers: bearer(token) });
    const sessionId = onA.transport.sessionId!;
    await onA.client.callTool({ name: 'echo', arguments: { text: 'live on A' } });
    const del = await fetch(b.mcp('legacy'), { method: 'DELETE', headers: { ...bearer(token), 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' } });
    expect(del.status).toBe(200);
    const deletedAt = performance.now();
    let ended = await rpc(a.mcp('legacy'), { ...bearer(token), 'mcp-session-id': sessionId }, { method: 'tools/call', params: { name: 'echo', arguments: { text: 'ended' } } });
    while (ended.status !== 404 && performance.now() - deletedAt < 3_000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      ended = await rpc(a.mcp('legacy'), { ...bearer(token), 'mcp-session-id': sessionId }, { method: 'tools/call', params: { name: 'echo', arguments: { text: 'ended' } } });
    }
    const elapsed = performance.now() - deletedAt;
    console.log(`session ended on B refused on A after ${elapsed.toFixed(0)} ms`);
    expect(ended.status, ended.text).toBe(404);
    // The bound is the 1 s recheck; the slack is for a loaded machine.
    expect(elapsed).toBeLessThan(2_000);
    await onA.close();
  });

  it('an authorization code issued by A redeems on B, once; the token works on both', async () => {
    const provider = new TestOAuthProvider({ credentials: USER });
    // Discovery, registration, login and consent on A: the SDK stops at the code.
    const first = new Client({ name: 'multi-instance-oauth', version: '1.0.0' });
    await expect(first.connect(new StreamableHTTPClientTransport(new URL(a.mcp('legacy')), { authProvider: provider }))).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    const code = provider.lastCode!;
    expect(code).toBeTruthy();

    const redeem = (on: GatewayInstance) =>
      fetch(`${on.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: provider.redirectUrl,
          code_verifier: provider.codeVerifier(),
          client_id: provider.clientInformation()!.client_id,
          resource: cluster.resource('legacy'),
        }),
      });
    const onB = await redeem(b);
    const tokens = (await onB.json()) as { access_token?: string; error?: string; error_description?: string };
    expect({ status: onB.status, error: tokens.error, description: tokens.error_description }).toEqual({ status: 200, error: undefined, description: undefined });
    const callOn = async (on: GatewayInstance) => {
      const c = await connectV1(on.mcp('legacy'), { headers: bearer(tokens.access_token!) });
      try {
        return await c.client.callTool({ name: 'slow_count', arguments: { steps: 1, delayMs: 0 } });
      } finally {
        await c.close();
      }
    };
    for (const on of [a, b]) expect((await callOn(on)).content).toEqual([{ type: 'text', text: 'counted to 1' }]);

    // Single use holds across instances: A refuses the code B redeemed, and (RFC 6749 §4.1.2) the
    // replay revokes what the code granted, on both instances.
    const replay = await redeem(a);
    expect(replay.status).toBe(400);
    expect(((await replay.json()) as { error: string }).error).toBe('invalid_grant');
    // A revoked at once; B learns of it from the store (the revocation list polls every second;
    // the bound leaves room for a loaded machine).
    await expect(callOn(a)).rejects.toThrow(/invalid_token/);
    const replayedAt = performance.now();
    let refusedOnB = false;
    while (!refusedOnB && performance.now() - replayedAt < 5_000) refusedOnB = await callOn(b).then(() => false, (e: Error) => /invalid_token/.test(e.message));
    const elapsed = performance.now() - replayedAt;
    console.log(`token revoked by the code replay on A refused on B after ${elapsed.toFixed(0)} ms`);
    expect(refusedOnB).toBe(true);
    expect(elapsed).toBeLessThan(3_000);
  });

  it('both instances append to one audit chain: the budget burst recorded once per call, unbroken', async () => {
    // Denials may still be in a writer's queue: wait until all 64 attempts are there.
    const spender = async () => (await readPgAudit(cluster.database.url)).filter((r) => r.agent === 'spender' && r.kind === 'attempt');
    const deadline = Date.now() + 5_000;
    let attempts = await spender();
    while (attempts.length < 64 && Date.now() < deadline) {
      await sleep(100);
      attempts = await spender();
    }
    const decisions = attempts.map((r) => `${r.decision}${r.reason ? ` ${r.reason}` : ''}`);
    // What the clients were told, whatever the budget let through (its own case checks that).
    expect({ attempts: attempts.length, allowed: decisions.filter((d) => d === 'allow').length, budget: decisions.filter((d) => d.includes('budget_exhausted')).length }).toEqual({
      attempts: 64,
      allowed: burstAllowed,
      budget: 64 - burstAllowed,
    });
    const rows = await readPgAudit(cluster.database.url);
    expect(chainBreaks(rows)).toEqual([]);
    // The gateway's own verifier (hashes and signed checkpoints) agrees.
    const verify = await runCli(['audit', 'verify', '--config', cluster.configFile], { timeoutMs: 20_000 });
    expect({ code: verify.code, stderr: verify.stderr }, verify.stdout).toEqual({ code: 0, stderr: '' });
    expect(verify.stdout).toMatch(/^OK/);
  });
});

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** A client_credentials token for a bot's own agent, issued by `on`, for the shared resource URI. */
async function botToken(on: GatewayInstance, bot: Bot): Promise<string> {
  const res = await fetch(`${on.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: `${bot}-bot`, client_secret: BOT_SECRET, resource: cluster.resource('legacy') }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`client_credentials for ${bot} on instance ${on.index}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

async function admin<T = unknown>(on: GatewayInstance, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${on.url}/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} /admin${path} on instance ${on.index}: HTTP ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** One JSON-RPC request by hand (2025-era headers), for what the SDK will not send. */
async function rpc(url: string, headers: Record<string, string>, message: { method: string; params?: unknown }): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, ...message }),
  });
  return { status: res.status, text: await res.text() };
}

/** How many `tools/call` requests reached the upstream so far. */
function upstreamCalls(): number {
  try {
    return readFileSync(recorded, 'utf8').split('\n').filter((l) => l.includes('"tools/call"')).length;
  } catch {
    return 0;
  }
}

async function eventually<T>(fn: () => Promise<T>, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe.skipIf(!PG_URL)('gateway processes starting together on a fresh database', () => {
  it('three start at once (migrations, the first signing key, declared policy) and agree', async () => {
    const echo = await startFixture(FIXTURES.v1Http);
    const started = await startInstances({
      count: 3,
      config: () => ({
        secret: SECRET,
        oauth: { preRegisteredClients: [{ clientId: 'spender-bot', clientSecret: BOT_SECRET, grantTypes: ['client_credentials'] }] },
        agents: {
          declared: {
            agents: [{ id: 'spender', name: 'spender', clientId: 'spender-bot' }],
            permissions: [{ id: 'spender-legacy', agentId: 'spender', resource: 'mcp:legacy:echo', actions: ['call'] }],
            budgets: [{ id: 'spender-ten', scope: 'agent', subject: 'spender', metric: 'calls', limit: 10, period: 'day' }],
          },
        },
        servers: { legacy: { transport: 'http', url: echo.url } },
      }),
    }).catch(async (error: unknown) => {
      await echo.stop();
      throw error;
    });
    try {
      // A token signed by the last instance is good on the first: they sign with one key.
      const res = await fetch(`${started.instances[2].url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'spender-bot', client_secret: BOT_SECRET, resource: started.resource('legacy') }),
      });
      expect(res.status).toBe(200);
      const { access_token } = (await res.json()) as { access_token: string };
      const c = await connectV1(started.instances[0].mcp('legacy'), { headers: bearer(access_token) });
      expect((await c.client.callTool({ name: 'echo', arguments: { text: 'one key' } })).content).toEqual([{ type: 'text', text: 'one key' }]);
      await c.close();
    } finally {
      await started.close();
      await echo.stop();
    }
  }, 90_000);
});
