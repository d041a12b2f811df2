/**
 * The transport's header rules on a real gateway: protocol version negotiation, the 2026-07-28
 * mirrored headers (`Mcp-Method`, `Mcp-Name`, Base64 sentinel) checked against the body, the
 * verbs 2026-07-28 does not have, and the DNS-rebinding defence on `Host` and `Origin`.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_STDIO, startGateway, type TestGateway } from '../helpers/gateway.js';

const MODERN = '2026-07-28';
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

let gw: TestGateway;
let port: number;

beforeAll(async () => {
  gw = await startGateway({ servers: { demo: DEMO_STDIO } });
  port = Number(new URL(gw.url).port);
});

afterAll(async () => {
  await gw?.close();
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  json: { id?: unknown; result?: Record<string, unknown>; error?: { code: number; message: string; data?: Record<string, unknown> } };
}

/** One request on a fresh connection (node:http, so `Host` can be anything). */
function send(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'POST', headers: init.headers, agent: false, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, json: text ? (JSON.parse(text) as Answer['json']) : {} }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(init.body);
  });
}

function expectRefusal(answer: Answer, status: number, code: number, why: RegExp): void {
  expect({ status: answer.status, code: answer.json.error?.code }).toEqual({ status, code });
  expect(answer.json.error?.message).toMatch(why);
}

/** A 2026-07-28 request: the `_meta` envelope in the body, mirrored in the headers. */
function modern(method: string, params: Record<string, unknown>, overrides: { headers?: Record<string, string | undefined>; metaVersion?: string | null } = {}) {
  const meta: Record<string, unknown> = {
    'io.modelcontextprotocol/clientInfo': { name: 'headers-test', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  if (overrides.metaVersion !== null) meta['io.modelcontextprotocol/protocolVersion'] = overrides.metaVersion ?? MODERN;
  const name = method === 'resources/read' ? params.uri : params.name;
  const headers: Record<string, string | undefined> = {
    ...JSON_HEADERS,
    'mcp-protocol-version': MODERN,
    'mcp-method': method,
    ...(typeof name === 'string' && { 'mcp-name': name }),
    ...overrides.headers,
  };
  return send(gw.mcp('demo'), {
    headers: Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined)),
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: meta } }),
  });
}

const base64 = (s: string) => `=?base64?${Buffer.from(s, 'utf8').toString('base64')}?=`;

const NAMED = [
  { method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } }, value: 'echo' },
  { method: 'resources/read', params: { uri: 'demo://readme' }, value: 'demo://readme' },
  { method: 'prompts/get', params: { name: 'greet', arguments: { name: 'Ada' } }, value: 'greet' },
];

describe('MCP-Protocol-Version', () => {
  it.each(['2024-11-05', '1999-01-01', 'latest'])('refuses %s with 400, -32022 and the supported list', async (version) => {
    const answer = await send(gw.mcp('demo'), {
      headers: { ...JSON_HEADERS, 'mcp-protocol-version': version },
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }),
    });
    expectRefusal(answer, 400, -32022, new RegExp(`Unsupported protocol version ${version}`));
    expect(answer.json.id).toBe(3);
    expect(answer.json.error?.data).toEqual({ supported: expect.arrayContaining([MODERN, '2025-11-25', '2025-06-18']), requested: version });
  });

  it('refuses an unsupported version in `_meta` under a 2026-07-28 header the same way', async () => {
    const answer = await modern('tools/list', {}, { metaVersion: '2099-01-01' });
    expectRefusal(answer, 400, -32022, /Unsupported protocol version 2099-01-01/);
    expect(answer.json.error?.data?.supported).toContain(MODERN);
  });
});

describe('2026-07-28 mirrored headers', () => {
  it.each(NAMED)('serves a well-formed $method', async ({ method, params }) => {
    const answer = await modern(method, params);
    expect(answer.status).toBe(200);
    expect(answer.json.result).toMatchObject({ resultType: 'complete' });
  });

  it('refuses a missing Mcp-Method (400, -32020)', async () => {
    const answer = await modern('tools/list', {}, { headers: { 'mcp-method': undefined } });
    expectRefusal(answer, 400, -32020, /Mcp-Method header is required/);
  });

  it('refuses an Mcp-Method that differs from the body (400, -32020)', async () => {
    const answer = await modern('tools/call', NAMED[0].params, { headers: { 'mcp-method': 'tools/list' } });
    expectRefusal(answer, 400, -32020, /Mcp-Method header tools\/list does not match body method tools\/call/);
  });

  it.each(NAMED)('refuses $method without Mcp-Name (400, -32020)', async ({ method, params }) => {
    const answer = await modern(method, params, { headers: { 'mcp-name': undefined } });
    expectRefusal(answer, 400, -32020, /Mcp-Name header is required/);
  });

  it.each(NAMED)('refuses $method whose Mcp-Name differs from the body (400, -32020)', async ({ method, params, value }) => {
    const answer = await modern(method, params, { headers: { 'mcp-name': 'something_else' } });
    expectRefusal(answer, 400, -32020, new RegExp(`Mcp-Name header something_else does not match body ${value}`));
  });

  it.each(NAMED)('accepts a Base64-sentinel Mcp-Name that decodes to the body value ($method)', async ({ method, params, value }) => {
    const answer = await modern(method, params, { headers: { 'mcp-name': base64(value) } });
    expect(answer.status).toBe(200);
    expect(answer.json.result).toMatchObject({ resultType: 'complete' });
  });

  it('refuses a Base64-sentinel Mcp-Name that decodes to something else (400, -32020)', async () => {
    const answer = await modern('tools/call', NAMED[0].params, { headers: { 'mcp-name': base64('delete_everything') } });
    expectRefusal(answer, 400, -32020, /Mcp-Name header delete_everything does not match body echo/);
  });

  it('refuses a raw non-ASCII Mcp-Name (it must be Base64-encoded) (400, -32020)', async () => {
    const answer = await modern('tools/call', NAMED[0].params, { headers: { 'mcp-name': Buffer.from('échø', 'utf8').toString('latin1') } });
    expectRefusal(answer, 400, -32020, /Mcp-Name header is not a valid encoded value/);
  });

  it('refuses a header version that differs from `_meta` (400, -32020)', async () => {
    const answer = await modern('tools/call', NAMED[0].params, { metaVersion: '2025-11-25' });
    expectRefusal(answer, 400, -32020, /MCP-Protocol-Version header 2026-07-28 does not match _meta 2025-11-25/);
  });

  it('refuses a 2026-07-28 header with no version in `_meta` (400, -32020)', async () => {
    const answer = await modern('tools/call', NAMED[0].params, { metaVersion: null });
    expectRefusal(answer, 400, -32020, /does not match _meta undefined/);
  });

  it('refuses a 2026-07-28 `_meta` version without the header (400, -32020)', async () => {
    const answer = await modern('tools/list', {}, { headers: { 'mcp-protocol-version': undefined } });
    expectRefusal(answer, 400, -32020, /MCP-Protocol-Version header is required/);
  });

  it.each(['GET', 'DELETE'])('answers %s under a 2026-07-28 header with 405 (the verb is not in that revision)', async (method) => {
    const answer = await send(gw.mcp('demo'), {
      method,
      headers: { accept: 'text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-session-id': 'whatever' },
    });
    expectRefusal(answer, 405, -32600, new RegExp(`${method} is not part of protocol ${MODERN}`));
    expect(answer.headers.allow).toBe('POST');
  });
});

describe('DNS-rebinding defence', () => {
  const ping = () => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN } } });
  const headersFor = (extra: Record<string, string>) => ({ ...JSON_HEADERS, 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list', ...extra });

  it.each([
    'http://evil.example',
    'https://evil.example',
    'null',
    'http://localhost.evil.example',
    'http://127.0.0.1.evil.example',
    'http://127.evil.example',
  ])('refuses Origin %s with 403', async (origin) => {
    const answer = await send(gw.mcp('demo'), { headers: headersFor({ origin }), body: ping() });
    expectRefusal(answer, 403, -32600, /Forbidden: Origin not allowed/);
  });

  it.each(['evil.example:PORT', 'evil.example', '127.0.0.1:1', 'localhost.evil.example:PORT'])('refuses Host %s with 403', async (host) => {
    const answer = await send(gw.mcp('demo'), { headers: headersFor({ host: host.replace('PORT', String(port)) }), body: ping() });
    expectRefusal(answer, 403, -32600, /Forbidden: unexpected Host header/);
  });

  it('guards every path, not only /mcp', async () => {
    const answer = await send(`${gw.url}/healthz`, { method: 'GET', headers: { host: `evil.example:${port}` } });
    expectRefusal(answer, 403, -32600, /unexpected Host header/);
  });

  it.each(['http://localhost:5173', 'http://127.0.0.1:3000', 'http://[::1]:8080', 'GATEWAY'])('serves a loopback Origin %s', async (origin) => {
    const answer = await send(gw.mcp('demo'), { headers: headersFor({ origin: origin === 'GATEWAY' ? gw.url : origin }), body: ping() });
    expect(answer.status).toBe(200);
    expect(answer.json.result?.tools).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'echo' })]));
  });

  it.each(['localhost:PORT', '127.0.0.1:PORT'])('serves Host %s', async (host) => {
    const answer = await send(gw.mcp('demo'), { headers: headersFor({ host: host.replace('PORT', String(port)) }), body: ping() });
    expect(answer.status).toBe(200);
  });
});
