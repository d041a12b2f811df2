/**
 * The aggregated endpoint `/mcp` and its upstream sessions, through a real gateway with SDK
 * clients: each 2025-era client session gets its own session on an HTTP upstream (the SDK v1
 * fixture records the `Mcp-Session-Id` of every request it gets), opened on first use and
 * deleted when the client's session ends (DELETE or idle expiry); an `isolated` stdio server gets
 * a child per client session; a 2026-07-28-only HTTP server is spoken to statelessly;
 * elicitation reaches the client that caused it, in both eras, from upstreams of both eras.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { textOf } from '../helpers/client-session.js';
import { connectV1, connectV2 } from '../helpers/clients.js';
import { DEMO_STDIO, startGateway, type TestGateway } from '../helpers/gateway.js';
import { FIXTURES, startFixture, type Fixture } from '../helpers/processes.js';

const SHIFTY = fileURLToPath(new URL('../fixtures/shifty-tools.mjs', import.meta.url));
const JSON_AND_SSE = 'application/json, text/event-stream';

let dir: string;
let records: string;
let legacy: Fixture;
let modernRecords: string;
let modern: Fixture;
let gw: TestGateway;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-federation-sessions-'));
  records = join(dir, 'requests.jsonl');
  legacy = await startFixture(FIXTURES.v1Http, { env: { RECORD_IDS_FILE: records, RECORD_HEADERS: '1' } });
  modernRecords = join(dir, 'modern-requests.jsonl');
  modern = await startFixture(FIXTURES.v2Http, { env: { RECORD_IDS_FILE: modernRecords, RECORD_HEADERS: '1', V2_LEGACY: 'reject' } });
  gw = await startGateway({
    servers: {
      legacy: { transport: 'http', url: legacy.url, timeoutMs: 10_000 },
      modern: { transport: 'http', url: modern.url, timeoutMs: 10_000 },
      iso: { transport: 'stdio', command: process.execPath, args: [SHIFTY], env: { SHIFTY_NAME: 'iso' }, mode: 'isolated' },
      demo: DEMO_STDIO,
    },
    sessions: { idleTimeoutMs: 1_000 },
  });
});

afterAll(async () => {
  await gw?.close();
  await legacy?.stop();
  await modern?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const aggregate = () => `${gw.url}/mcp`;

interface Recorded {
  method: string;
  headers: Record<string, string>;
}

/** What an upstream has received so far, from the fixture's record file. */
function received(file = records): Recorded[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Recorded);
}

/** The upstream session ids that carried `method`, in order of first use. */
function upstreamSessions(method: string): string[] {
  return [...new Set(received().filter((r) => r.method === method).map((r) => r.headers['mcp-session-id']))];
}

/** Whether the upstream still knows an upstream session (an ended one answers 404). */
async function upstreamKnows(sessionId: string): Promise<boolean> {
  const res = await fetch(legacy.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: JSON_AND_SSE, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 'probe', method: 'ping' }),
  });
  await res.body?.cancel();
  return res.status !== 404;
}

async function aggregateHealth(server: string): Promise<{ state: string; sessions: number }> {
  const health = (await (await fetch(`${gw.url}/healthz`)).json()) as { aggregate: { name: string; state: string; sessions: number }[] };
  return health.aggregate.find((s) => s.name === server)!;
}

/** A 2025-era client without the SDK: plain POSTs, never a GET stream. */
function bare(url: string, body: object, sessionId?: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: JSON_AND_SSE, ...(sessionId && { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' }) },
    body: JSON.stringify({ jsonrpc: '2.0', ...body }),
  });
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('/mcp upstream sessions', () => {
  it('opens one HTTP upstream session per client session on first use, and deletes it with the client session', async () => {
    const one = await connectV1(aggregate());
    const two = await connectV1(aggregate());
    // Connected, nothing asked yet: the upstream has seen nothing.
    expect(received().filter((r) => r.method === 'initialize')).toEqual([]);

    await one.client.listTools();
    const [first] = upstreamSessions('tools/list');
    expect(first).toBeDefined();
    await two.client.listTools();
    const sessions = upstreamSessions('tools/list');
    expect(sessions).toHaveLength(2);
    const second = sessions[1];
    expect(received().filter((r) => r.method === 'initialize')).toHaveLength(2);

    // Each client's calls go over its own upstream session.
    expect(textOf(await one.client.callTool({ name: 'legacy__echo', arguments: { text: 'one' } }))).toBe('one');
    expect(textOf(await two.client.callTool({ name: 'legacy__echo', arguments: { text: 'two' } }))).toBe('two');
    expect(upstreamSessions('tools/call')).toEqual([first, second]);
    expect(await aggregateHealth('legacy')).toMatchObject({ state: 'ready', sessions: 2 });

    await one.transport.terminateSession();
    expect(await upstreamKnows(first)).toBe(false);
    expect(await upstreamKnows(second)).toBe(true);
    expect(await aggregateHealth('legacy')).toMatchObject({ sessions: 1 });
    await one.close();
    await two.transport.terminateSession();
    await two.close();
    expect(await upstreamKnows(second)).toBe(false);
  });

  it('deletes the upstream session when the client session expires idle', async () => {
    // A bare client without a GET stream (an open stream keeps a session alive).
    const post = (body: object, sessionId?: string) => bare(aggregate(), body, sessionId);
    const init = await post({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bare', version: '1' } } });
    const sessionId = init.headers.get('mcp-session-id')!;
    await init.body?.cancel();
    const before = new Set(upstreamSessions('tools/list'));
    const list = await post({ id: 2, method: 'tools/list' }, sessionId);
    expect(JSON.stringify(await list.json())).toContain('legacy__echo');
    const upstream = upstreamSessions('tools/list').find((s) => !before.has(s))!;
    expect(await upstreamKnows(upstream)).toBe(true);
    await eventually(async () => !(await upstreamKnows(upstream)), 'the idle session ends and its upstream session is deleted');
    const gone = await post({ id: 3, method: 'tools/list' }, sessionId);
    expect(gone.status).toBe(404);
  });

  it('holds no upstream connection for a client session that does not listen', async () => {
    // Two connections towards the upstream: if each held session kept its GET stream open, the
    // third session's initialize would wait for a connection that never frees.
    const narrow = await startGateway({ servers: { legacy: { transport: 'http', url: legacy.url, timeoutMs: 10_000, connections: 2 } } });
    try {
      for (let i = 0; i < 3; i++) {
        const init = await bare(`${narrow.url}/mcp`, { id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bare', version: '1' } } });
        const sessionId = init.headers.get('mcp-session-id')!;
        await init.body?.cancel();
        const list = (await (await bare(`${narrow.url}/mcp`, { id: 2, method: 'tools/list' }, sessionId)).json()) as { result: { tools: unknown[]; _meta?: unknown } };
        expect(list.result._meta).toBeUndefined();
        expect(list.result.tools).toHaveLength(3);
      }
    } finally {
      await narrow.close();
    }
  });

  it('gives each client session its own child of an isolated stdio server, and its list changes', async () => {
    const one = await connectV1(aggregate());
    const two = await connectV1(aggregate());
    const heard: string[] = [];
    one.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void heard.push('one'));
    two.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void heard.push('two'));
    const before = (await aggregateHealth('iso')).sessions;
    // Let the clients' standalone GET streams open before the upstream speaks.
    await new Promise((r) => setTimeout(r, 200));
    expect(textOf(await one.client.callTool({ name: 'iso__whoami', arguments: {} }))).toBe('iso');
    expect(textOf(await two.client.callTool({ name: 'iso__echo', arguments: { text: 'x' } }))).toBe('x');
    expect((await aggregateHealth('iso')).sessions).toBe(before + 2);
    // `whoami` announces a list change on one's own child: one hears it, two does not.
    await eventually(async () => heard.includes('one'), 'one hears its child list_changed', 5_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(heard).toEqual(['one']);
    await one.transport.terminateSession();
    expect((await aggregateHealth('iso')).sessions).toBe(before + 1);
    await Promise.all([one.close(), two.close()]);
  });
});

describe('/mcp elicitation', () => {
  it.each([
    ['the stdio demo server', 'demo__ask_user'],
    ['an SDK v1 HTTP server, over the client session own upstream session', 'legacy__ask_user'],
    ['a 2026-07-28-only SDK v2 HTTP server, its input_required turned into a request', 'modern__ask_user'],
  ])('reaches a 2025-era client (SDK v1) from %s and its answer goes back', async (_name, tool) => {
    const c = await connectV1(aggregate(), { onElicit: () => ({ action: 'accept', content: { answer: 'the portcullis' } }) });
    const result = await c.client.callTool({ name: tool, arguments: { question: 'Who guards the gate?' } });
    expect(textOf(result)).toBe('You answered: the portcullis');
    expect(c.elicitations.map((e) => e.message)).toEqual(['Who guards the gate?']);
    await c.close();
  });

  it.each([
    ['the stdio demo server', 'demo__ask_user'],
    ['a 2026-07-28-only SDK v2 HTTP server', 'modern__ask_user'],
  ])('reaches a 2026-07-28 client (SDK v2) from %s as an input_required result, answered on retry', async (_name, tool) => {
    const c = await connectV2(aggregate(), { era: 'modern' });
    const result = await c.client.callTool({ name: tool, arguments: { question: 'Which gate?' } });
    expect(textOf(result)).toBe('You answered: portcullis');
    expect(c.elicitations.map((e) => e.message)).toEqual(['Which gate?']);
    await c.close();
  });
});

describe('/mcp in front of a 2026-07-28-only HTTP server', () => {
  it('speaks 2026-07-28 upstream for clients of both eras: no initialize, no session, the envelope headers on every request', async () => {
    const earlier = received(modernRecords).length;
    const old = await connectV1(aggregate());
    const current = await connectV2(aggregate(), { era: 'modern' });
    expect((await old.client.listTools()).tools.map((t) => t.name)).toContain('modern__echo');
    expect(textOf(await old.client.callTool({ name: 'modern__echo', arguments: { text: 'old' } }))).toBe('old');
    expect(textOf(await current.client.callTool({ name: 'modern__echo', arguments: { text: 'new' } }))).toBe('new');
    const seen = received(modernRecords);
    expect(seen.slice(earlier).filter((r) => r.method === 'tools/call')).toHaveLength(2);
    expect(seen.map((r) => r.method)).not.toContain('initialize');
    for (const r of seen) {
      expect(r.headers['mcp-protocol-version']).toBe('2026-07-28');
      expect(r.headers['mcp-method']).toBe(r.method);
      expect(r.headers['mcp-session-id']).toBeUndefined();
    }
    expect(await aggregateHealth('modern')).toMatchObject({ state: 'ready' });
    await Promise.all([old.close(), current.close()]);
  });
});
