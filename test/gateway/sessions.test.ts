/**
 * 2025-era sessions on a real gateway (MCP transports, "Session Management"): unguessable ids,
 * bound to the identity and server that opened them, ended by DELETE, and kept in the store so
 * a restart on the same database serves them on. A shared stdio child multiplexes sessions whose
 * JSON-RPC ids collide without mixing their answers (the SDK's CVE-2026-25536); an isolated one
 * gives each session its own process.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayConfigInput } from '../../src/config/schema.js';
import { textOf } from '../helpers/client-session.js';
import { connectV1 } from '../helpers/clients.js';
import { freshDatabase } from '../helpers/database.js';
import { DEMO_STDIO, headerIdentity, startGateway, type TestGateway } from '../helpers/gateway.js';
import { FIXTURES, startFixture, type Fixture } from '../helpers/processes.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LEGACY_VERSION = '2025-11-25';

/**
 * The demo server with its process id in `serverInfo.name`, so a client can tell which child
 * served it. Run with `node --input-type=module -e` from the repo root (for the SDK import).
 */
const PID_REVEALING_DEMO = [
  "import { serveStdio } from '@modelcontextprotocol/server/stdio';",
  `import { createDemoServer } from ${JSON.stringify(pathToFileURL(FIXTURES.demo).href)};`,
  "serveStdio(() => createDemoServer({ name: 'demo-pid-' + process.pid }));",
].join('\n');

let v1Http: Fixture;
let gw: TestGateway;
const recordDir = mkdtempSync(join(tmpdir(), 'portcullis-sessions-'));
const recordFile = join(recordDir, 'upstream-ids.jsonl');

function gatewayConfig(): Partial<GatewayConfigInput> {
  return {
    servers: {
      demo: DEMO_STDIO,
      legacy: { transport: 'http', url: v1Http.url },
      iso: { transport: 'stdio', command: process.execPath, args: ['--input-type=module', '-e', PID_REVEALING_DEMO], cwd: REPO_ROOT, mode: 'isolated' },
    },
  };
}

beforeAll(async () => {
  v1Http = await startFixture(FIXTURES.v1Http, { env: { RECORD_IDS_FILE: recordFile } });
  gw = await startGateway(gatewayConfig(), { authenticate: headerIdentity });
});

afterAll(async () => {
  await gw?.close();
  await v1Http?.stop();
  rmSync(recordDir, { recursive: true, force: true });
});

type Message = { jsonrpc: '2.0'; id?: unknown; method?: string; params?: Record<string, any>; result?: Record<string, any>; error?: { code: number; message: string } };

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /** Every JSON-RPC message of the answer: the JSON body, or each SSE event in order. */
  messages: Message[];
}

function send(url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'POST', headers: init.headers, agent: false, timeout: 15_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, messages: messagesOf(String(res.headers['content-type']), text) }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
    req.on('error', reject);
    req.end(init.body === undefined ? undefined : JSON.stringify(init.body));
  });
}

function messagesOf(contentType: string, text: string): Message[] {
  if (!text) return [];
  if (!contentType.startsWith('text/event-stream')) return [JSON.parse(text) as Message];
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice(6)) as Message);
}

const headers = (user: string, sessionId?: string): Record<string, string> => ({
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'x-test-user': user,
  ...(sessionId !== undefined && { 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY_VERSION }),
});

/** A raw 2025-era client session: `initialize`, then `notifications/initialized`. */
async function openSession(target: TestGateway, server: string, user: string): Promise<{ id: string; serverName: string }> {
  const init = await send(target.mcp(server), {
    headers: headers(user),
    body: { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: { name: 'sessions-test', version: '1' } } },
  });
  expect(init.status).toBe(200);
  const id = init.headers['mcp-session-id'];
  expect(typeof id).toBe('string');
  const done = await send(target.mcp(server), { headers: headers(user, id as string), body: { jsonrpc: '2.0', method: 'notifications/initialized' } });
  expect(done.status).toBe(202);
  return { id: id as string, serverName: init.messages[0].result!.serverInfo.name };
}

const call = (target: TestGateway, server: string, user: string, sessionId: string, id: number, name: string, args: Record<string, unknown>, progressToken?: string) =>
  send(target.mcp(server), {
    headers: headers(user, sessionId),
    body: { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, ...(progressToken !== undefined && { _meta: { progressToken } }) } },
  });

const end = (target: TestGateway, server: string, user: string, sessionId: string) =>
  send(target.mcp(server), { method: 'DELETE', headers: headers(user, sessionId) });

function expectRefusal(answer: Answer, status: number, why: RegExp): void {
  const [message] = answer.messages;
  expect({ status: answer.status, code: message?.error?.code }).toEqual({ status, code: -32600 });
  expect(message.error!.message).toMatch(why);
}

function finalText(answer: Answer): string {
  const final = answer.messages.at(-1)!;
  return textOf(final.result!);
}

describe('session ids', () => {
  it('are at least 128 random bits of base64url, never repeated', async () => {
    const sessions = await Promise.all(Array.from({ length: 40 }, () => openSession(gw, 'demo', 'alice')));
    const ids = sessions.map((s) => s.id);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{22,}$/);
      expect(Buffer.from(id, 'base64url').length).toBeGreaterThanOrEqual(16);
    }
    expect(new Set(ids).size).toBe(ids.length);
    // No shared prefix: nothing sequential or time-based leaks into them.
    expect(new Set(ids.map((id) => id.slice(0, 4))).size).toBeGreaterThan(30);
    await Promise.all(ids.map((id) => end(gw, 'demo', 'alice', id)));
  });
});

describe('session refusals', () => {
  let alice: string;
  beforeAll(async () => {
    alice = (await openSession(gw, 'demo', 'alice')).id;
  });

  it('answers an unknown session id with 404', async () => {
    const answer = await call(gw, 'demo', 'alice', 'A'.repeat(43), 5, 'echo', { text: 'x' });
    expectRefusal(answer, 404, /Session not found/);
    expect(answer.messages[0].id).toBe(5);
  });

  it('answers an absurdly long session id with 404', async () => {
    expectRefusal(await call(gw, 'demo', 'alice', 'A'.repeat(4000), 5, 'echo', { text: 'x' }), 404, /Session not found/);
  });

  it('answers a non-initialize request without a session with 400', async () => {
    const answer = await send(gw.mcp('demo'), { headers: headers('alice'), body: { jsonrpc: '2.0', id: 6, method: 'tools/list' } });
    expectRefusal(answer, 400, /Mcp-Session-Id header is required/);
  });

  it.each(['GET', 'DELETE'])('answers %s without a session with 400', async (method) => {
    const answer = await send(gw.mcp('demo'), { method, headers: { ...headers('alice'), accept: 'text/event-stream' } });
    expectRefusal(answer, 400, /Mcp-Session-Id header is required/);
  });

  it('never serves a session to another identity: 404 for POST, GET and DELETE', async () => {
    expectRefusal(await call(gw, 'demo', 'mallory', alice, 1, 'echo', { text: 'stolen' }), 404, /Session not found/);
    const get = await send(gw.mcp('demo'), { method: 'GET', headers: { ...headers('mallory', alice), accept: 'text/event-stream' } });
    expectRefusal(get, 404, /Session not found/);
    expectRefusal(await end(gw, 'demo', 'mallory', alice), 404, /Session not found/);
    // ...and the attempt did not end or spoil it for its owner.
    const own = await call(gw, 'demo', 'alice', alice, 2, 'echo', { text: 'mine' });
    expect(own.status).toBe(200);
    expect(finalText(own)).toBe('mine');
  });

  it('never serves a session on another server: 404', async () => {
    expectRefusal(await call(gw, 'legacy', 'alice', alice, 3, 'echo', { text: 'x' }), 404, /Session not found/);
  });

  it('ends a session on DELETE; afterwards it is gone (404)', async () => {
    const { id } = await openSession(gw, 'demo', 'alice');
    const deleted = await end(gw, 'demo', 'alice', id);
    expect(deleted.status).toBe(200);
    expectRefusal(await call(gw, 'demo', 'alice', id, 1, 'echo', { text: 'x' }), 404, /Session not found/);
    expectRefusal(await end(gw, 'demo', 'alice', id), 404, /Session not found/);
  });
});

describe('JSON-RPC id isolation on a shared stdio child (CVE-2026-25536)', () => {
  it('gives each session only its own answers when both use the same ids and progress token', async () => {
    // Same identity on purpose: isolation must come from the session, not the principal.
    const [a, b] = await Promise.all([openSession(gw, 'demo', 'alice'), openSession(gw, 'demo', 'alice')]);
    const [a1, a2, b1, b2] = await Promise.all([
      call(gw, 'demo', 'alice', a.id, 1, 'slow_count', { steps: 3, delayMs: 60 }, 'tok'),
      call(gw, 'demo', 'alice', a.id, 2, 'echo', { text: 'for session A' }),
      call(gw, 'demo', 'alice', b.id, 1, 'slow_count', { steps: 5, delayMs: 30 }, 'tok'),
      call(gw, 'demo', 'alice', b.id, 2, 'echo', { text: 'for session B' }),
    ]);

    for (const [answer, steps] of [[a1, 3], [b1, 5]] as const) {
      expect(answer.status).toBe(200);
      const progress = answer.messages.filter((m) => m.method === 'notifications/progress');
      expect(progress.map((m) => m.params)).toEqual(
        Array.from({ length: steps }, (_, i) => expect.objectContaining({ progressToken: 'tok', progress: i + 1, total: steps })),
      );
      const final = answer.messages.at(-1)!;
      expect(final.id).toBe(1);
      expect(finalText(answer)).toBe(`counted to ${steps}`);
      expect(answer.messages.filter((m) => m.id !== undefined)).toHaveLength(1);
    }
    expect(a2.messages).toEqual([{ jsonrpc: '2.0', id: 2, result: { content: [{ type: 'text', text: 'for session A' }] } }]);
    expect(b2.messages).toEqual([{ jsonrpc: '2.0', id: 2, result: { content: [{ type: 'text', text: 'for session B' }] } }]);
  });
});

describe('isolated stdio server', () => {
  it('gives each session its own child, and DELETE stops that child only', async () => {
    const [one, two] = await Promise.all([openSession(gw, 'iso', 'alice'), openSession(gw, 'iso', 'bob')]);
    const pidOne = Number(/^demo-pid-(\d+)$/.exec(one.serverName)?.[1]);
    const pidTwo = Number(/^demo-pid-(\d+)$/.exec(two.serverName)?.[1]);
    expect(pidOne).toBeGreaterThan(0);
    expect(pidTwo).toBeGreaterThan(0);
    expect(pidOne).not.toBe(pidTwo);
    expect(isAlive(pidOne) && isAlive(pidTwo)).toBe(true);
    const health = (await (await fetch(`${gw.url}/healthz`)).json()) as { servers: Array<{ name: string; pid?: number }> };
    const sharedPid = health.servers.find((s) => s.name === 'demo')?.pid;
    expect(sharedPid).toBeGreaterThan(0);
    expect([pidOne, pidTwo]).not.toContain(sharedPid);

    expect(finalText(await call(gw, 'iso', 'alice', one.id, 1, 'echo', { text: 'one' }))).toBe('one');
    expect(finalText(await call(gw, 'iso', 'bob', two.id, 1, 'echo', { text: 'two' }))).toBe('two');

    expect((await end(gw, 'iso', 'alice', one.id)).status).toBe(200);
    await waitFor(() => !isAlive(pidOne), 5_000, `isolated child ${pidOne} still running after DELETE`);
    expect(isAlive(pidTwo)).toBe(true);
    expectRefusal(await call(gw, 'iso', 'alice', one.id, 2, 'echo', { text: 'x' }), 404, /Session not found/);
    expect(finalText(await call(gw, 'iso', 'bob', two.id, 2, 'echo', { text: 'still two' }))).toBe('still two');

    await end(gw, 'iso', 'bob', two.id);
    await waitFor(() => !isAlive(pidTwo), 5_000, `isolated child ${pidTwo} still running after DELETE`);
  });
});

describe('a restart on the same database', () => {
  it('keeps SDK sessions working with the same session id (HTTP upstream and stdio)', async () => {
    const database = await freshDatabase();
    let before: TestGateway | undefined = await startGateway(gatewayConfig(), { database: database.config, authenticate: headerIdentity });
    let after: TestGateway | undefined;
    const port = Number(new URL(before.url).port);
    const user = { headers: { 'x-test-user': 'carol' } };
    const legacy = await connectV1(before.mcp('legacy'), user);
    const demo = await connectV1(before.mcp('demo'), user);
    try {
      expect(textOf(await legacy.client.callTool({ name: 'echo', arguments: { text: 'before, http' } }))).toBe('before, http');
      expect(textOf(await demo.client.callTool({ name: 'echo', arguments: { text: 'before, stdio' } }))).toBe('before, stdio');
      const ids = { legacy: legacy.transport.sessionId, demo: demo.transport.sessionId };
      const initializesBefore = upstreamInitializes();

      await before.close();
      before = undefined;
      after = await startGateway({ ...gatewayConfig(), port }, { database: database.config, authenticate: headerIdentity });

      expect(textOf(await legacy.client.callTool({ name: 'echo', arguments: { text: 'after, http' } }))).toBe('after, http');
      expect(textOf(await demo.client.callTool({ name: 'echo', arguments: { text: 'after, stdio' } }))).toBe('after, stdio');
      expect({ legacy: legacy.transport.sessionId, demo: demo.transport.sessionId }).toEqual(ids);
      // The upstream session id came back from the store too: no second `initialize` upstream.
      expect(upstreamInitializes()).toBe(initializesBefore);
      // The identity binding survived with it.
      expectRefusal(await call(after, 'demo', 'mallory', ids.demo!, 9, 'echo', { text: 'x' }), 404, /Session not found/);
    } finally {
      await Promise.all([legacy.close(), demo.close()]);
      await before?.close();
      await after?.close();
      await database.drop();
    }
  });
});

function upstreamInitializes(): number {
  return readFileSync(recordFile, 'utf8')
    .split('\n')
    .filter((line) => line.includes('"method":"initialize"')).length;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(what);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
