import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { Identity } from './authenticate.js';
import type { Admission, CallGate } from './call-gate.js';
import { ClientStream, errorResponse, type FinalHook } from './client-stream.js';
import type { JsonRpcId, Message } from './jsonrpc/message.js';
import { parseMessage } from './jsonrpc/parse-message.js';
import { classifyPost, isModernVersion, negotiateLegacyVersion } from './protocol.js';
import { mcpContext, type McpContext, type ServerRoute } from './routes/server-route.js';
import type { SessionRegistry } from './sessions.js';
import { RpcCode, sendWireError, toWireError, wireError, type WireError } from './wire-error.js';

/**
 * Who is calling, or the HTTP answer that refuses them (401/403 with a challenge). `principal` is
 * the key sessions are bound to; `identity` carries the verified claims when there are any.
 */
export type AuthResult = Verified | { ok: false; error: WireError };
type Verified = { ok: true; principal: string; identity?: Identity };
export type Authenticator = (req: IncomingMessage, server: string) => AuthResult | Promise<AuthResult>;

interface Answering {
  id: JsonRpcId | null;
  hook: FinalHook | undefined;
}

/** A route that runs the call gate itself (the aggregated endpoint routes first, then gates). */
type Route = ServerRoute & { readonly selfGated?: true };

export interface McpEndpointDeps {
  routes: ReadonlyMap<string, Route>;
  gate: CallGate;
  sessions: SessionRegistry;
  authenticate: Authenticator;
  limits: { readonly maxBodyBytes: number; readonly maxDepth: number };
  logger: Logger;
}

/**
 * `POST`/`GET`/`DELETE /mcp/{server}`: the Streamable HTTP endpoint, served from the raw node
 * request (the framework adapter costs too much here). Order: route → auth → body → parse →
 * classify → route handler; every refusal is a WireError sent from one place.
 */
export function createMcpEndpoint(deps: McpEndpointDeps) {
  const { routes, sessions, limits, gate } = deps;

  return async function handleMcp(req: IncomingMessage, res: ServerResponse, server: string): Promise<void> {
    const route = routes.get(server);
    if (!route) {
      req.resume();
      return sendWireError(res, wireError(404, RpcCode.INVALID_REQUEST, `unknown server "${server}"`));
    }
    // The id of the request being answered, once parsed: an upstream failure thrown from a route
    // is still an answer to that request, and JSON-RPC says its error carries the request's id.
    // The gate's hook too: a failure is that call's outcome (audit, budget refund).
    const answering: Answering = { id: null, hook: undefined };
    try {
      const checked = deps.authenticate(req, server);
      const auth = checked instanceof Promise ? await checked : checked;
      if (!auth.ok) {
        req.resume();
        return sendWireError(res, auth.error);
      }
      if (req.method === 'POST') return await handlePost(req, res, server, auth, route, answering);
      req.resume();
      const ctx = mcpContext(server, auth, req, res, undefined, undefined);
      if (req.method === 'GET' || req.method === 'DELETE') return await handleSessionVerb(ctx, route, req.method);
      sendWireError(res, wireError(405, RpcCode.INVALID_REQUEST, `method ${req.method} not allowed`, { headers: { allow: 'GET, POST, DELETE' } }));
    } catch (err) {
      if (!(err instanceof Error && err.name === 'AbortError')) {
        deps.logger.warn({ server, err: (err as Error).message }, 'request failed');
      }
      const wire = toWireError(err, server, answering.id);
      answering.hook?.(errorResponse(wire), wire.status);
      sendWireError(res, wire);
    }
  };

  async function handlePost(req: IncomingMessage, res: ServerResponse, server: string, auth: Verified, route: Route, answering: Answering): Promise<void> {
    const contentType = req.headers['content-type'];
    if (!contentType || !contentType.startsWith('application/json')) {
      req.resume();
      return sendWireError(res, wireError(415, RpcCode.INVALID_REQUEST, 'Invalid Request: Content-Type must be application/json'));
    }
    const body = await readBody(req, limits.maxBodyBytes);
    if (body === undefined) {
      return sendWireError(res, wireError(413, RpcCode.INVALID_REQUEST, `Invalid Request: body exceeds ${limits.maxBodyBytes} bytes`, { headers: { connection: 'close' } }));
    }
    const parsed = parseMessage(body, limits.maxDepth);
    if (!parsed.ok) return sendWireError(res, parsed.error);
    const message = parsed.message;
    if (message.kind === 'request') answering.id = message.id;
    const ctx = mcpContext(server, auth, req, res, parsed.exact ? body : undefined, undefined);
    const era = classifyPost(req.headers, message);
    if ('status' in era) return sendWireError(res, era);
    if (era.era === 'modern') {
      const passed = route.selfGated ? ctx : pass(ctx, message, answering);
      const gated = passed instanceof Promise ? await passed : passed;
      return gated && route.modern(gated, message, era.version);
    }

    if (message.kind === 'request' && message.method === 'initialize') {
      if (!sessions.hasCapacity()) {
        return sendWireError(res, wireError(503, RpcCode.INTERNAL_ERROR, 'too many open sessions; try again later', { id: message.id }));
      }
      return route.initialize(ctx, message, negotiateLegacyVersion(message.params?.protocolVersion));
    }
    const id = message.kind === 'notification' ? null : message.id;
    if (!era.sessionId) {
      return sendWireError(res, wireError(400, RpcCode.INVALID_REQUEST, 'Bad Request: Mcp-Session-Id header is required (send initialize first)', { id }));
    }
    // hot path: a live session and an ungated method resolve without awaiting a promise.
    const found = sessions.find(era.sessionId, ctx.server, ctx.principal);
    const session = found instanceof Promise ? await found : found;
    if (!session) return sendWireError(res, wireError(404, RpcCode.INVALID_REQUEST, 'Session not found', { id }));
    const passed = route.selfGated ? ctx : pass(ctx, message, answering);
    const gated = passed instanceof Promise ? await passed : passed;
    return gated && route.sessionMessage(gated, session, message);
  }

  /**
   * The gate (policy, then the awaited audit attempt) for the methods it decides; the caller's
   * context gains the hook that sees the final answer. Undefined: the gate answered already.
   */
  function pass(ctx: McpContext, message: Message, answering: Answering): McpContext | undefined | Promise<McpContext | undefined> {
    if (message.kind !== 'request') return ctx;
    if (!gate.isGated(message.method)) {
      const hook = gate.listHook(ctx, message);
      return hook ? mcpContext(ctx.server, ctx, ctx.req, ctx.res, ctx.body, hook) : ctx;
    }
    const admission = gate.admit(ctx, message);
    return admission instanceof Promise ? admission.then((a) => admitted(ctx, a, answering)) : admitted(ctx, admission, answering);
  }

  function admitted(ctx: McpContext, admission: Admission, answering: Answering): McpContext | undefined {
    if (!admission.ok) {
      new ClientStream(ctx.res).final(admission.response);
      return undefined;
    }
    if (!admission.hook) return ctx;
    answering.hook = admission.hook;
    return mcpContext(ctx.server, ctx, ctx.req, ctx.res, ctx.body, admission.hook);
  }

  async function handleSessionVerb(ctx: McpContext, route: ServerRoute, verb: 'GET' | 'DELETE'): Promise<void> {
    const { req, res } = ctx;
    const version = req.headers['mcp-protocol-version'];
    if (typeof version === 'string' && isModernVersion(version)) {
      return sendWireError(res, wireError(405, RpcCode.INVALID_REQUEST, `${verb} is not part of protocol ${version}`, { headers: { allow: 'POST' } }));
    }
    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId !== 'string') {
      return sendWireError(res, wireError(400, RpcCode.INVALID_REQUEST, 'Bad Request: Mcp-Session-Id header is required'));
    }
    const session = await sessions.find(sessionId, ctx.server, ctx.principal);
    if (!session) return sendWireError(res, wireError(404, RpcCode.INVALID_REQUEST, 'Session not found'));
    if (verb === 'DELETE') return route.endSession(ctx, session);
    const accept = req.headers.accept ?? '';
    if (!accept.includes('text/event-stream')) {
      return sendWireError(res, wireError(406, RpcCode.INVALID_REQUEST, 'Not Acceptable: GET needs Accept: text/event-stream'));
    }
    return route.openStream(ctx, session);
  }
}

/**
 * Reads the request body, or returns undefined once it passes `max` bytes (413 before any
 * parsing: a declared Content-Length over the cap is refused without reading at all).
 */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (declared > max) {
    req.pause();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        // Stop reading; the 413 goes out with `Connection: close` and the socket is dropped.
        req.off('data', onData);
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}
