/**
 * Hostile and broken input, on the wire, against a real gateway: every malformed body gets a
 * precise refusal (HTTP status + JSON-RPC code + a message that says why), never a 500, and the
 * gateway keeps serving. Upstream answers are held to the same caps: a hostile HTTP upstream's
 * too-deep, duplicate-key and oversized answers reach the client as -32012 naming the server.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { textOf } from '../helpers/client-session.js';
import { connectV1 } from '../helpers/clients.js';
import { DEMO_STDIO, startGateway, type TestGateway } from '../helpers/gateway.js';
import { startFixture, type Fixture } from '../helpers/processes.js';

const HOSTILE = new URL('../fixtures/hostile-upstream.mjs', import.meta.url).pathname;
const MAX_BODY = 256 * 1024;
const MAX_RESPONSE = 64 * 1024;
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

let gw: TestGateway;
let hostile: Fixture;

beforeAll(async () => {
  hostile = await startFixture(HOSTILE);
  gw = await startGateway({
    servers: { demo: DEMO_STDIO, hostile: { transport: 'http', url: hostile.url } },
    limits: { maxBodyBytes: MAX_BODY, maxResponseBytes: MAX_RESPONSE },
  });
});

afterAll(async () => {
  await gw?.close();
  await hostile?.stop();
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: { jsonrpc?: string; id?: unknown; result?: Record<string, unknown>; error?: { code: number; message: string; data?: unknown } };
}

/** One request on a fresh connection, bytes exactly as given (node:http, not fetch, so nothing is normalised). */
function send(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'POST', headers: init.headers ?? JSON_HEADERS, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, text, json: parseLoose(text) });
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(init.body);
  });
}

function parseLoose(text: string): Answer['json'] {
  try {
    return JSON.parse(text) as Answer['json'];
  } catch {
    return {};
  }
}

function expectRefusal(answer: Answer, status: number, code: number, why: RegExp): void {
  expect({ status: answer.status, code: answer.json.error?.code }).toEqual({ status, code });
  expect(answer.json.jsonrpc).toBe('2.0');
  expect(answer.json.error?.message).toMatch(why);
}

const post = (body: string | Uint8Array, headers: Record<string, string> = JSON_HEADERS) => send(gw.mcp('demo'), { body, headers });

const utf8 = (s: string) => Buffer.from(s, 'utf8');
const PING = '{"jsonrpc":"2.0","id":1,"method":"ping"}';

describe('malformed JSON is a parse error (400, -32700)', () => {
  it.each([
    { name: 'truncated JSON', body: utf8('{"jsonrpc":"2.0","id":1,"method":'), why: /not valid JSON/ },
    { name: 'single quotes', body: utf8("{'jsonrpc':'2.0','id':1,'method':'ping'}"), why: /not valid JSON/ },
    { name: 'an empty body', body: utf8(''), why: /not valid JSON/ },
    { name: 'invalid UTF-8 (0xFF 0xFE)', body: Buffer.concat([utf8('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"'), Buffer.from([0xff, 0xfe]), utf8('"}}')]), why: /not valid UTF-8/ },
    { name: 'an overlong UTF-8 encoding of "/"', body: Buffer.concat([utf8('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"'), Buffer.from([0xc0, 0xaf]), utf8('"}}')]), why: /not valid UTF-8/ },
    { name: 'a UTF-8 encoded lone surrogate', body: Buffer.concat([utf8('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"'), Buffer.from([0xed, 0xa0, 0x80]), utf8('"}}')]), why: /not valid UTF-8/ },
    { name: 'a leading byte order mark', body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8(PING)]), why: /Parse error/ },
    { name: 'trailing garbage', body: utf8(`${PING} garbage`), why: /not valid JSON/ },
    { name: 'two messages back to back', body: utf8(`${PING}${PING}`), why: /not valid JSON/ },
  ])('$name', async ({ body, why }) => {
    expectRefusal(await post(body), 400, -32700, why);
  });
});

describe('a body that is not one JSON-RPC message is an invalid request (400, -32600)', () => {
  it.each([
    { name: 'a batch', body: `[${PING}]`, why: /batches are not supported/ },
    { name: 'an empty batch', body: '[]', why: /batches are not supported/ },
    { name: 'a bare string', body: '"ping"', why: /must be an object/ },
    { name: 'null', body: 'null', why: /must be an object/ },
    { name: 'no "jsonrpc"', body: '{"id":1,"method":"ping"}', why: /"jsonrpc" must be "2.0"/ },
    { name: '"jsonrpc": "1.0"', body: '{"jsonrpc":"1.0","id":1,"method":"ping"}', why: /"jsonrpc" must be "2.0"/ },
    { name: 'no method and no id', body: '{"jsonrpc":"2.0","params":{}}', why: /needs "method" or "id"/ },
    { name: 'result and error both', body: '{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}', why: /exactly one of "result" and "error"/ },
    { name: 'neither result nor error', body: '{"jsonrpc":"2.0","id":1}', why: /exactly one of "result" and "error"/ },
    { name: 'a request carrying a result', body: '{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}', why: /cannot carry "result" or "error"/ },
    { name: 'an empty method', body: '{"jsonrpc":"2.0","id":1,"method":""}', why: /"method" must be a non-empty string/ },
    { name: 'a numeric method', body: '{"jsonrpc":"2.0","id":1,"method":7}', why: /"method" must be a non-empty string/ },
  ])('$name', async ({ body, why }) => {
    expectRefusal(await post(body), 400, -32600, why);
  });
});

describe('ids outside string | integer within ±2^53 are refused (400, -32600)', () => {
  it.each([
    { name: 'null', id: 'null' },
    { name: '1.5', id: '1.5' },
    { name: '{}', id: '{}' },
    { name: '[]', id: '[]' },
    { name: 'true', id: 'true' },
    { name: '2^53', id: '9007199254740992' },
    { name: '-2^53', id: '-9007199254740992' },
    { name: '1e400', id: '1e400' },
  ])('id $name', async ({ id }) => {
    expectRefusal(await post(`{"jsonrpc":"2.0","id":${id},"method":"tools/list"}`), 400, -32600, /"id" must be a string or an integer/);
  });
});

describe('params that are not an object are invalid params (400, -32602)', () => {
  it.each([
    { name: 'an array', params: '["echo"]' },
    { name: 'a string', params: '"echo"' },
    { name: 'null', params: 'null' },
    { name: 'a number', params: '42' },
  ])('params is $name', async ({ params }) => {
    expectRefusal(await post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":${params}}`), 400, -32602, /"params" must be an object/);
  });
});

describe('parser-differential bait is refused (400, -32600)', () => {
  it.each([
    { name: 'a duplicate "method"', body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"x"}', why: /duplicate keys/ },
    { name: 'a duplicate tool name in params', body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"delete_everything","arguments":{}}}', why: /duplicate keys/ },
    { name: 'a duplicate key deep in arguments', body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"a","opts":{"x":1,"x":2}}}}', why: /duplicate keys/ },
    { name: 'a top-level "__proto__"', body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","__proto__":{"admin":true}}', why: /"__proto__" keys are not accepted/ },
    { name: 'a "__proto__" in arguments', body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"__proto__":{"isAdmin":true},"text":"x"}}}', why: /"__proto__" keys are not accepted/ },
    { name: 'an escaped "\\u005f_proto__"', body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"\\u005f_proto__":{"isAdmin":true}}}', why: /"__proto__" keys are not accepted/ },
  ])('$name', async ({ body, why }) => {
    expectRefusal(await post(body), 400, -32600, why);
  });
});

describe('nesting depth is capped at 64 before parsing', () => {
  const nested = (depth: number, close = true) =>
    `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":${'['.repeat(depth)}${close ? ']'.repeat(depth) : ''}${close ? '}}' : ''}`;

  it('accepts exactly 64 levels (the message goes on to session checks)', async () => {
    // Two levels are the message and params; 62 more arrays make 64.
    const answer = await post(nested(62));
    expectRefusal(answer, 400, -32600, /Mcp-Session-Id header is required/);
  });

  it.each([
    { name: '65 levels', body: nested(63) },
    { name: '100k levels', body: nested(100_000) },
    { name: '100k levels, never closed', body: nested(100_000, false) },
    { name: '40k levels of objects', body: `${'{"a":'.repeat(40_000)}1${'}'.repeat(40_000)}` },
  ])('$name → 400, -32600 (never a 500)', async ({ body }) => {
    expect(Buffer.byteLength(body)).toBeLessThan(MAX_BODY);
    expectRefusal(await post(body), 400, -32600, /nested deeper than 64/);
  });
});

describe('Content-Type must be JSON (415)', () => {
  it.each<{ name: string; headers: Record<string, string> }>([
    { name: 'text/plain', headers: { 'content-type': 'text/plain', accept: JSON_HEADERS.accept } },
    { name: 'form-encoded', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: JSON_HEADERS.accept } },
    { name: 'no Content-Type', headers: { accept: JSON_HEADERS.accept } },
  ])('$name', async ({ headers }) => {
    expectRefusal(await post(PING, headers), 415, -32600, /Content-Type must be application\/json/);
  });
});

describe('body size is capped before parsing (413)', () => {
  it('refuses a declared Content-Length over the cap without parsing it', async () => {
    // Not JSON at all: a parse error here would mean the gateway read and parsed it first.
    const answer = await post('x'.repeat(MAX_BODY + 1));
    expectRefusal(answer, 413, -32600, new RegExp(`exceeds ${MAX_BODY} bytes`));
  });

  it('refuses a chunked body (no Content-Length) as soon as it passes the cap, before it ends', async () => {
    const answer = await postUnending(gw.mcp('demo'), MAX_BODY * 4);
    expectRefusal(answer, 413, -32600, new RegExp(`exceeds ${MAX_BODY} bytes`));
  });

  it('refuses a Content-Length over the cap at once, without waiting for a body that never comes', async () => {
    const { status, body } = await rawExchange(`${rawHead(`Content-Length: ${MAX_BODY * 8}`)}{"jsonrpc"`);
    expect(status).toBe(413);
    expect(JSON.parse(body)).toMatchObject({ error: { code: -32600, message: expect.stringMatching(new RegExp(`exceeds ${MAX_BODY} bytes`)) } });
  });

  it('refuses Content-Length together with chunked encoding (request smuggling) with 400 and a closed connection', async () => {
    // node's parser refuses this framing before the gateway sees a request, which is the point:
    // no component ever has to choose which of the two lengths to believe.
    const { status, raw } = await rawExchange(`${rawHead('Content-Length: 10\r\nTransfer-Encoding: chunked')}5\r\nhello\r\n0\r\n\r\n`);
    expect(status).toBe(400);
    expect(raw).toMatch(/\r\nConnection: close\r\n/i);
  });

  it('takes a body just under the cap', async () => {
    const pad = 'x'.repeat(MAX_BODY - 200);
    const answer = await post(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"pad":"${pad}"}}`);
    expectRefusal(answer, 400, -32600, /Mcp-Session-Id header is required/);
  });
});

it('refuses an unknown server (404)', async () => {
  expectRefusal(await send(gw.mcp('nope'), { body: PING }), 404, -32600, /unknown server "nope"/);
});

const rawHead = (headers: string) =>
  `POST /mcp/demo HTTP/1.1\r\nHost: ${new URL(gw.url).host}\r\nContent-Type: application/json\r\n${headers}\r\n\r\n`;

/** Writes bytes on a raw socket; reads until the gateway closes it (or 5 s pass). */
function rawExchange(bytes: string): Promise<{ status: number; body: string; raw: string }> {
  return new Promise((resolve) => {
    let raw = '';
    const socket = connect(Number(new URL(gw.url).port), '127.0.0.1', () => socket.write(bytes));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (raw += chunk));
    socket.on('error', () => undefined);
    const timer = setTimeout(() => socket.destroy(), 5_000);
    socket.on('close', () => {
      clearTimeout(timer);
      const split = raw.indexOf('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]), body: split === -1 ? '' : raw.slice(split + 4), raw });
    });
  });
}

/**
 * Streams up to `limit` bytes with chunked encoding and never ends the request: the answer has
 * to come while the body is still open, which proves the gateway stopped reading at the cap.
 */
function postUnending(url: string, limit: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(url, { method: 'POST', headers: { ...JSON_HEADERS, 'transfer-encoding': 'chunked' }, agent: false, timeout: 10_000 }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        req.destroy();
        resolve({ status: res.statusCode!, headers: res.headers, text, json: parseLoose(text) });
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    // Once the gateway has answered it may reset the connection under the rest of the upload.
    req.on('error', (err) => !answered && reject(err));
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (!answered && sent < limit) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!answered) req.write('{"jsonrpc":"2.0","id":1,"method":"ping"}'); // still not ended
    };
    pump();
  });
}

describe('upstream answers get the same caps (502, -32012 naming the server)', () => {
  let sessionId: string;

  beforeAll(async () => {
    const init = await send(gw.mcp('hostile'), {
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
    });
    expect(init.status).toBe(200);
    sessionId = String(init.headers['mcp-session-id']);
  });

  const callHostile = (id: number, name: string, args: Record<string, unknown> = {}) =>
    send(gw.mcp('hostile'), {
      headers: { ...JSON_HEADERS, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }),
    });

  it('passes a well-formed answer through', async () => {
    const answer = await callHostile(1, 'echo', { text: 'fine' });
    expect(answer.status).toBe(200);
    expect(answer.json.result).toEqual({ content: [{ type: 'text', text: 'fine' }] });
  });

  it.each([
    { tool: 'too_deep', args: {}, why: /nested deeper than 64/ },
    { tool: 'dup_keys', args: {}, why: /duplicate keys/ },
    { tool: 'huge', args: { bytes: MAX_RESPONSE * 2 }, why: new RegExp(`exceeds ${MAX_RESPONSE}`) },
    { tool: 'huge_event', args: { bytes: MAX_RESPONSE * 2 }, why: new RegExp(`SSE event exceeds ${MAX_RESPONSE} bytes`) },
    { tool: 'no_answer', args: {}, why: /HTTP 202 with no response to the request/ },
    { tool: 'unanswered', args: {}, why: /stream ended with no response to the request/ },
  ])('$tool', async ({ tool, args, why }) => {
    const answer = await callHostile(7, tool, args);
    expectRefusal(answer, 502, -32012, /upstream hostile sent an invalid answer/);
    expect(answer.json.error?.message).toMatch(why);
    expect(answer.json.id).toBe(7);
    expect(answer.text).not.toContain('shown to');
    expect(answer.text.length).toBeLessThan(1024);
  });

  it('ends a stream that closes unanswered after it began with an error event for the request', async () => {
    const answer = await callHostile(8, 'unanswered', { notes: 1 });
    expect(answer.status).toBe(200);
    const events = answer.text
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice(6)) as { id?: unknown; method?: string; error?: { code: number; message: string } });
    expect(events.map((e) => e.method ?? 'answer')).toEqual(['notifications/message', 'answer']);
    expect(events[1]).toMatchObject({ id: 8, error: { code: -32012 } });
    expect(events[1].error?.message).toMatch(/stream ended with no response to the request/);
  });

  it('keeps serving the same session afterwards', async () => {
    const answer = await callHostile(9, 'echo', { text: 'still here' });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ jsonrpc: '2.0', id: 9, result: { content: [{ type: 'text', text: 'still here' }] } });
  });
});

describe('after all of that', () => {
  it('is healthy', async () => {
    const answer = await send(`${gw.url}/healthz`, { method: 'GET', headers: {} });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ status: 'ok' });
  });

  it('serves a real tools/call from an SDK client', async () => {
    const { client, close } = await connectV1(gw.mcp('demo'));
    try {
      expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'unharmed' } }))).toBe('unharmed');
    } finally {
      await close();
    }
  });
});
