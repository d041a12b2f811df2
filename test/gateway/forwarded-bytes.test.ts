/**
 * What reaches an HTTP upstream is what policy judged. A request whose bytes say exactly what
 * its parsed message says is forwarded as sent (no re-serialising on the hot path); one whose
 * numbers a parser could read differently (fractions, exponents, integers past 15 digits), or
 * that carries members beyond the known ones, goes up re-serialised from the parsed message.
 * The upstream here records the raw bytes it receives and sends them back as the tool's result.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

const PEEK = { name: 'peek', description: 'returns the bytes it got', inputSchema: { type: 'object' } };
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };

let upstream: Server;
let gw: TestGateway;
let sessionId: string;

/** A 2025-era JSON-mode upstream that answers `tools/call peek` with the body it received, byte for byte. */
function startRecorder(): Promise<string> {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const msg = JSON.parse(raw) as { id?: number | string; method: string; params?: { protocolVersion?: string } };
      if (msg.id === undefined) return void res.writeHead(202).end();
      const result =
        msg.method === 'initialize'
          ? { protocolVersion: msg.params?.protocolVersion ?? '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'recorder', version: '1' } }
          : msg.method === 'tools/list'
            ? { tools: [PEEK] }
            : msg.method === 'tools/call'
              ? { content: [{ type: 'text', text: raw }] }
              : {};
      const body = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
  });
  return new Promise((resolve) => upstream.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`)));
}

async function post(body: string, extra: Record<string, string> = {}): Promise<Response> {
  return fetch(gw.mcp('rec'), { method: 'POST', headers: { ...JSON_HEADERS, ...extra }, body });
}

/** Sends `body` as a tools/call on the session and returns the bytes the upstream received for it. */
async function received(body: string): Promise<string> {
  const res = await post(body, { 'mcp-session-id': sessionId });
  expect(res.status).toBe(200);
  const answer = (await res.json()) as { result?: { content: { text: string }[] }; error?: unknown };
  expect(answer.error).toBeUndefined();
  return answer.result!.content[0].text;
}

beforeAll(async () => {
  const url = await startRecorder();
  gw = await startGateway({ servers: { rec: { transport: 'http', url, protocol: 'legacy' } } });
  const init = await post(JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }));
  expect(init.status).toBe(200);
  sessionId = init.headers.get('mcp-session-id')!;
  await init.text();
  await (await post('{"jsonrpc":"2.0","method":"notifications/initialized"}', { 'mcp-session-id': sessionId })).text();
  // The pins learn the tool from the list; calls to a tool never listed are refused.
  await (await post('{"jsonrpc":"2.0","id":1,"method":"tools/list"}', { 'mcp-session-id': sessionId })).text();
});

afterAll(async () => {
  await gw?.close();
  await new Promise((resolve) => upstream?.close(resolve));
});

describe('a request the gateway forwards to an HTTP upstream', () => {
  it('goes up as the client sent it when its bytes carry exactly the parsed message', async () => {
    const sent = '{ "params": {"arguments": {"n": -12, "s": "a\\u0041\\"}", "ok": true, "list": [1, 2, null]}, "name": "peek"},\n "id": 2, "method": "tools/call", "jsonrpc": "2.0" }';
    expect(await received(sent)).toBe(sent);
  });

  it.each([
    ['a fraction', '{"n":2.50}', { n: 2.5 }],
    ['an exponent', '{"n":1e2}', { n: 100 }],
    ['an integer past 15 digits (read as a double, as policy read it)', '{"n":9007199254740993}', { n: 9007199254740992 }],
  ])('is re-serialised from the parsed message when it holds %s', async (_what, args, judged) => {
    const sent = `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"peek","arguments":${args}}}`;
    const got = await received(sent);
    expect(got).not.toBe(sent);
    expect(got).toBe(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'peek', arguments: judged } }));
  });

  it('loses members beyond the known ones (they never reach the upstream)', async () => {
    const got = await received('{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"peek"},"extra":{"x":1}}');
    expect(JSON.parse(got)).toEqual({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'peek' } });
  });

  it('keeps digits and letters inside strings out of the number check', async () => {
    const sent = '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"peek","arguments":{"s":"1.5e9 and 12345678901234567890"}}}';
    expect(await received(sent)).toBe(sent);
  });
});
