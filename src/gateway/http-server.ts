import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import { AGGREGATE } from './federation/aggregate-route.js';
import type { HostGuard } from './host-guard.js';
import { RpcCode, sendWireError, wireError } from './wire-error.js';

const MCP_PREFIX = '/mcp/';

/**
 * The listener. `/mcp/{server}` is served straight from node:http (the hot path); everything
 * else (health, OAuth, admin) goes through hono, where its adapter's cost does not matter.
 */
export function createHttpServer(opts: {
  guard: () => HostGuard;
  mcp: (req: IncomingMessage, res: ServerResponse, server: string) => Promise<void>;
  app: Hono;
}): Server {
  const rest = getRequestListener(opts.app.fetch);
  const server = createServer((req, res) => {
    const verdict = opts.guard().check(req);
    if (verdict !== 'ok') {
      req.resume();
      sendWireError(res, wireError(403, RpcCode.INVALID_REQUEST, verdict === 'bad_host' ? 'Forbidden: unexpected Host header' : 'Forbidden: Origin not allowed'));
      return;
    }
    if (req.headers.origin !== undefined && allowCors(req, res)) return;
    const url = req.url ?? '/';
    // `/mcp` itself is the aggregated endpoint (every server behind one URL).
    if (url === '/mcp' || url.startsWith('/mcp?')) {
      void opts.mcp(req, res, AGGREGATE);
      return;
    }
    if (url.startsWith(MCP_PREFIX)) {
      const name = serverName(url);
      if (name !== undefined) {
        void opts.mcp(req, res, name);
        return;
      }
    }
    void rest(req, res);
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}

/**
 * CORS for browser clients (the MCP Inspector, web agents) whose Origin the guard accepted:
 * the preflight is answered here; real responses expose the MCP headers. Returns true when the
 * request was a preflight and is done.
 */
function allowCors(req: IncomingMessage, res: ServerResponse): boolean {
  res.setHeader('access-control-allow-origin', req.headers.origin!);
  res.setHeader('vary', 'Origin');
  res.setHeader('access-control-expose-headers', 'Mcp-Session-Id, WWW-Authenticate, MCP-Protocol-Version');
  if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined) return false;
  req.resume();
  res.writeHead(204, {
    'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
    'access-control-allow-headers': req.headers['access-control-request-headers'] ?? 'content-type',
    'access-control-max-age': '600',
  });
  res.end();
  return true;
}

/** `/mcp/demo` or `/mcp/demo?x` → `demo`; deeper paths are not MCP endpoints. */
function serverName(url: string): string | undefined {
  let end = url.length;
  const q = url.indexOf('?', MCP_PREFIX.length);
  if (q !== -1) end = q;
  const name = url.slice(MCP_PREFIX.length, end);
  if (name.length === 0 || name.includes('/')) return undefined;
  if (!name.includes('%')) return name;
  try {
    return decodeURIComponent(name);
  } catch {
    return undefined;
  }
}
