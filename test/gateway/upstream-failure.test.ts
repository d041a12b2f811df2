/**
 * Upstreams die; the gateway does not. A killed HTTP upstream turns the next call into a
 * -32010 naming the server, and once the upstream is back the same client session carries on
 * (the gateway re-opens the upstream session for it). A killed stdio child fails the calls in
 * flight with -32010 and is restarted with backoff; the next call works.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { textOf } from '../helpers/client-session.js';
import { connectV1 } from '../helpers/clients.js';
import { DEMO_STDIO, startGateway, type TestGateway } from '../helpers/gateway.js';
import { FIXTURES, restartFixture, startFixture, type Fixture } from '../helpers/processes.js';

const RESTART_DELAY_MS = 300;
const LEGACY_VERSION = '2025-11-25';

let gw: TestGateway;
let v1Http: Fixture;

beforeAll(async () => {
  v1Http = await startFixture(FIXTURES.v1Http);
  gw = await startGateway({
    servers: {
      legacy: { transport: 'http', url: v1Http.url },
      demo: { ...DEMO_STDIO, restart: { initialDelayMs: RESTART_DELAY_MS, maxDelayMs: 5_000 } },
    },
  });
});

afterAll(async () => {
  await gw?.close();
  await v1Http?.stop();
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  json: { id?: unknown; result?: Record<string, unknown>; error?: { code: number; message: string } };
}

/** A raw POST; `onSent` fires once the whole request is on the wire. */
function post(url: string, headers: Record<string, string>, body: unknown, onSent?: () => void): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers, agent: false, timeout: 15_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('error', reject);
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode!, headers: res.headers, json: lastMessage(String(res.headers['content-type']), text) });
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
    req.on('error', reject);
    if (onSent) req.once('finish', onSent);
    req.end(JSON.stringify(body));
  });
}

/** The JSON body, or the last event of an SSE answer (the response; progress comes before it). */
function lastMessage(contentType: string, text: string): Answer['json'] {
  if (!contentType.startsWith('text/event-stream')) return JSON.parse(text) as Answer['json'];
  const data = text.split('\n').filter((line) => line.startsWith('data: '));
  return JSON.parse(data.at(-1)!.slice(6)) as Answer['json'];
}

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const inSession = (sessionId: string) => ({ ...JSON_HEADERS, 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY_VERSION });

async function openRawSession(server: string): Promise<string> {
  const init = await post(gw.mcp(server), JSON_HEADERS, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: { name: 'failure-test', version: '1' } },
  });
  expect(init.status).toBe(200);
  return String(init.headers['mcp-session-id']);
}

const toolCall = (id: number, name: string, args: Record<string, unknown>) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

type Health = { status: string; servers: Array<{ name: string; state: string; pid?: number }> };

async function health(): Promise<Health> {
  const res = await fetch(`${gw.url}/healthz`);
  expect(res.status).toBe(200);
  return (await res.json()) as Health;
}

async function demoHealth() {
  return (await health()).servers.find((s) => s.name === 'demo')!;
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The JSON-RPC body an SDK v1 transport error carries in its message (`Error POSTing to endpoint: {...}`). */
function bodyOfTransportError(err: unknown): Answer['json'] {
  const match = /\{.*\}$/s.exec((err as Error).message);
  if (!match) throw err;
  return JSON.parse(match[0]) as Answer['json'];
}

describe('an HTTP upstream that dies and comes back', () => {
  it('fails the next call with 502, -32010 naming the server, then resumes the same client session', async () => {
    const sdk = await connectV1(gw.mcp('legacy'));
    try {
      expect(textOf(await sdk.client.callTool({ name: 'echo', arguments: { text: 'before' } }))).toBe('before');
      const sessionId = sdk.transport.sessionId!;
      const raw = await openRawSession('legacy');

      await v1Http.kill();

      const failed = await sdk.client.callTool({ name: 'echo', arguments: { text: 'while down' } }).catch((err: unknown) => err);
      expect(failed).toMatchObject({ code: 502 });
      expect(bodyOfTransportError(failed).error).toMatchObject({ code: -32010, message: expect.stringMatching(/^upstream legacy is unavailable: /) });

      const answer = await post(gw.mcp('legacy'), inSession(raw), toolCall(41, 'echo', { text: 'while down' }));
      expect({ status: answer.status, code: answer.json.error?.code, id: answer.json.id }).toEqual({ status: 502, code: -32010, id: 41 });
      expect(answer.json.error?.message).toMatch(/^upstream legacy is unavailable: .*legacy/);

      expect((await health()).status).toBe('ok');

      v1Http = await restartFixture(v1Http);

      // The restarted upstream has never heard of the old upstream session: the gateway
      // re-initialises on the client's behalf, and the client keeps its own session id.
      expect(textOf(await sdk.client.callTool({ name: 'echo', arguments: { text: 'after' } }))).toBe('after');
      expect(sdk.transport.sessionId).toBe(sessionId);
      const again = await post(gw.mcp('legacy'), inSession(raw), toolCall(42, 'echo', { text: 'raw after' }));
      expect(again.status).toBe(200);
      expect(again.json).toEqual({ jsonrpc: '2.0', id: 42, result: { content: [{ type: 'text', text: 'raw after' }] } });
    } finally {
      await sdk.close();
    }
  });
});

describe('a stdio child that dies', () => {
  it('fails the calls in flight with -32010 naming the server, restarts with backoff, and serves the next call', async () => {
    const sdk = await connectV1(gw.mcp('demo'));
    const raw = await openRawSession('demo');
    try {
      expect(textOf(await sdk.client.callTool({ name: 'echo', arguments: { text: 'before' } }))).toBe('before');
      const first = await demoHealth();
      expect(first).toMatchObject({ state: 'ready', pid: expect.any(Number) });

      // In flight: a raw call (no progress token, so a plain JSON answer) sent first, then an SDK
      // call; once the SDK call reports progress the child has read both.
      let sent!: () => void;
      const rawSent = new Promise<void>((resolve) => (sent = resolve));
      const rawCall = post(gw.mcp('demo'), inSession(raw), toolCall(7, 'slow_count', { steps: 50, delayMs: 100 }), sent);
      await rawSent;
      let progressed!: () => void;
      const firstProgress = new Promise<void>((resolve) => (progressed = resolve));
      const sdkCall = sdk.client
        .callTool({ name: 'slow_count', arguments: { steps: 50, delayMs: 100 } }, undefined, { onprogress: () => progressed() })
        .catch((err: unknown) => err);
      await firstProgress;

      const killedAt = Date.now();
      process.kill(first.pid!, 'SIGKILL');

      const rawAnswer = await rawCall;
      expect({ status: rawAnswer.status, code: rawAnswer.json.error?.code, id: rawAnswer.json.id }).toEqual({ status: 502, code: -32010, id: 7 });
      expect(rawAnswer.json.error?.message).toMatch(/^upstream demo is unavailable: process exited \(SIGKILL\)/);
      const sdkError = await sdkCall;
      expect(sdkError).toBeInstanceOf(McpError);
      expect(sdkError).toMatchObject({ code: -32010, message: expect.stringMatching(/upstream demo is unavailable: process exited/) });

      // Backoff: down first, then a new child no sooner than the configured delay.
      expect(await demoHealth()).toMatchObject({ state: 'down' });
      const restarted = await waitFor(async () => {
        const h = await demoHealth();
        return h.state === 'ready' && h.pid !== first.pid ? h : undefined;
      }, 10_000, 'the demo child to restart');
      expect(Date.now() - killedAt).toBeGreaterThanOrEqual(RESTART_DELAY_MS);

      expect(textOf(await sdk.client.callTool({ name: 'echo', arguments: { text: 'after' } }))).toBe('after');
      const after = await post(gw.mcp('demo'), inSession(raw), toolCall(8, 'echo', { text: 'raw after' }));
      expect(after.json).toEqual({ jsonrpc: '2.0', id: 8, result: { content: [{ type: 'text', text: 'raw after' }] } });

      // A second crash soon after waits twice as long before the next restart.
      const killedAgainAt = Date.now();
      process.kill(restarted.pid!, 'SIGKILL');
      await waitFor(async () => {
        const h = await demoHealth();
        return h.state === 'ready' && h.pid !== restarted.pid ? h : undefined;
      }, 10_000, 'the demo child to restart again');
      expect(Date.now() - killedAgainAt).toBeGreaterThanOrEqual(2 * RESTART_DELAY_MS);
      expect(textOf(await sdk.client.callTool({ name: 'echo', arguments: { text: 'after two crashes' } }))).toBe('after two crashes');
      expect((await health()).status).toBe('ok');
    } finally {
      await sdk.close();
    }
  });
});
