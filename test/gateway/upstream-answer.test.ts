/**
 * How an HTTP upstream's answer is read (src/gateway/upstream/upstream-answer.ts), against a
 * real node:http server through the real undici pool: whole bodies under a cap, streams with
 * backpressure, dumps, aborts, timeouts and broken connections, each as the gateway sees it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse-config.js';
import type { HttpServerConfig } from '../../src/config/schema.js';
import { PortcullisError } from '../../src/errors.js';
import { createHttpUpstream, type HttpUpstream } from '../../src/gateway/upstream/http-upstream.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const routes = new Map<string, Handler>();
let server: Server;
let base: string;
const upstreams: HttpUpstream[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    routes.get(req.url ?? '')?.(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await Promise.all(upstreams.map((u) => u.close()));
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** An upstream (one pooled connection unless told) for the route `path`, served by `handler`. */
function upstreamFor(path: string, handler: Handler, extra: Partial<{ timeoutMs: number; connections: number }> = {}): HttpUpstream {
  routes.set(path, handler);
  const config = parseConfig({ servers: { t: { transport: 'http', url: `${base}${path}`, connections: 1, ...extra } } }).servers.t as HttpServerConfig;
  const upstream = createHttpUpstream('t', config);
  upstreams.push(upstream);
  return upstream;
}

const post = (u: HttpUpstream, signal?: AbortSignal) => u.post('{}', { 'content-type': 'application/json' }, signal);

async function failure(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: Error) => err,
  );
}

/** Resolves once the response to the server's current request closes, saying whether it finished. */
function closedBeforeFinish(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => res.once('close', () => resolve(!res.writableFinished)));
}

/**
 * An upstream whose answer never ends: `chunk` every `everyMs` ms until the connection goes.
 * `closed()` says whether that connection closed before the answer finished.
 */
function unending(path: string, status: number, contentType: string, chunk: string | Buffer, everyMs: number) {
  let closed: Promise<boolean> = Promise.resolve(false);
  const u = upstreamFor(path, (_req, res) => {
    closed = closedBeforeFinish(res);
    res.writeHead(status, { 'content-type': contentType });
    const timer = setInterval(() => res.write(chunk), everyMs);
    res.once('close', () => clearInterval(timer));
  });
  return { u, closed: () => closed };
}

describe('a whole body', () => {
  it('is read exactly, on a connection kept for the next request', async () => {
    const ports: number[] = [];
    const u = upstreamFor('/json', (req, res) => {
      ports.push(req.socket.remotePort!);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
    for (let i = 0; i < 2; i++) {
      const answer = await post(u);
      expect(answer.statusCode).toBe(200);
      expect(answer.headers['content-type']).toBe('application/json');
      expect((await answer.body.bytes(1000)).toString()).toBe('{"jsonrpc":"2.0","id":1,"result":{}}');
    }
    expect(ports[0]).toBe(ports[1]);
  });

  it('over a declared cap is refused before it is read, and the connection closed', async () => {
    let closed: Promise<boolean> = Promise.resolve(false);
    const u = upstreamFor('/declared', (_req, res) => {
      closed = closedBeforeFinish(res);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 100_000 });
      res.write(Buffer.alloc(1000, 0x20)); // the rest never comes: only the declared length says it is too big
    });
    const answer = await post(u);
    const err = await failure(answer.body.bytes(10_000));
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as PortcullisError).code).toBe('RESPONSE_TOO_LARGE');
    expect(await closed).toBe(true);
  });

  it('over the cap without a declared length is refused once the cap is passed, mid-stream', async () => {
    const { u, closed } = unending('/chunked', 200, 'application/json', Buffer.alloc(1000, 0x20), 5);
    const err = await failure((await post(u)).body.bytes(10_000));
    expect((err as PortcullisError).code).toBe('RESPONSE_TOO_LARGE');
    expect(await closed()).toBe(true);
  });

  it('cut short by the upstream is an unavailable upstream, not a short answer', async () => {
    const u = upstreamFor('/cut', (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 5000 });
      res.write(Buffer.alloc(1000, 0x20), () => req.socket.destroy());
    });
    const err = await failure((await post(u)).body.bytes(10_000));
    expect((err as PortcullisError).code).toBe('UPSTREAM_UNAVAILABLE');
  });
});

describe('a stream', () => {
  it('pauses the upstream while the reader is slow, then delivers every byte in order', async () => {
    const total = 64 * 1024 * 1024; // far more than socket buffers hold
    let written = 0;
    const u = upstreamFor('/stream', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const pump = () => {
        while (written < total) {
          const chunk = Buffer.alloc(64 * 1024, written / (64 * 1024)); // byte at offset o is ⌊o / 64 KiB⌋ mod 256
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const answer = await post(u);
    const it = answer.body[Symbol.asyncIterator]();
    const first = await it.next();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(written).toBeLessThan(total / 4); // held back: nothing read for 300 ms
    let read = first.value!.length;
    let ordered = first.value![0] === 0;
    for (let r = await it.next(); !r.done; r = await it.next()) {
      ordered &&= r.value[r.value.length - 1] === Math.floor((read + r.value.length - 1) / (64 * 1024)) % 256;
      read += r.value.length;
    }
    expect(read).toBe(total);
    expect(ordered).toBe(true);
  });

  it('left early (break) closes the connection', async () => {
    const { u, closed } = unending('/left', 200, 'text/event-stream', 'data: {}\n\n', 5);
    for await (const chunk of (await post(u)).body) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    expect(await closed()).toBe(true);
  });

  it('aborted by its signal mid-way ends the reader with an AbortError and closes the connection', async () => {
    const { u, closed } = unending('/abort-mid', 200, 'text/event-stream', 'data: {}\n\n', 5);
    const abort = new AbortController();
    const answer = await post(u, abort.signal);
    const chunks: Buffer[] = [];
    const err = await failure(
      (async () => {
        for await (const chunk of answer.body) {
          chunks.push(chunk);
          if (chunks.length === 2) abort.abort();
        }
      })(),
    );
    expect(err.name).toBe('AbortError');
    expect(await closed()).toBe(true);
  });
});

describe('a dump', () => {
  it('reads a small unwanted body and keeps the connection', async () => {
    const ports: number[] = [];
    const u = upstreamFor('/small', (req, res) => {
      ports.push(req.socket.remotePort!);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such session');
    });
    await (await post(u)).body.dump();
    await (await post(u)).body.dump();
    expect(ports).toHaveLength(2);
    expect(ports[0]).toBe(ports[1]);
  });

  it('closes the connection rather than read a large one, and does not fail', async () => {
    const { u, closed } = unending('/large', 500, 'text/plain', Buffer.alloc(64 * 1024), 2);
    await (await post(u)).body.dump();
    expect(await closed()).toBe(true);
  });
});

describe('a request that gets no answer', () => {
  it('aborted before the head is an AbortError, and the upstream sees the request go', async () => {
    let gone: Promise<boolean> = Promise.resolve(false);
    const u = upstreamFor('/hang', (_req, res) => {
      gone = closedBeforeFinish(res); // never answered
    });
    const abort = new AbortController();
    const pending = post(u, abort.signal);
    await new Promise((resolve) => setTimeout(resolve, 50));
    abort.abort();
    expect((await failure(pending)).name).toBe('AbortError');
    expect(await gone).toBe(true);
  });

  it('with a signal already aborted fails at once', async () => {
    const u = upstreamFor('/never', (_req, res) => res.writeHead(200).end());
    expect((await failure(post(u, AbortSignal.abort()))).name).toBe('AbortError');
  });

  it('past its timeout is UPSTREAM_TIMEOUT', async () => {
    const u = upstreamFor('/slow', () => undefined, { timeoutMs: 150 });
    const err = await failure(post(u));
    expect((err as PortcullisError).code).toBe('UPSTREAM_TIMEOUT');
  });

  it('to a closed port is UPSTREAM_UNAVAILABLE naming the failure', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const config = parseConfig({ servers: { t: { transport: 'http', url: `http://127.0.0.1:${port}/mcp` } } }).servers.t as HttpServerConfig;
    const u = createHttpUpstream('gone', config);
    upstreams.push(u);
    const err = await failure(post(u));
    expect((err as PortcullisError).code).toBe('UPSTREAM_UNAVAILABLE');
    expect(err.message).toMatch(/ECONNREFUSED talking to gone/);
  });
});
