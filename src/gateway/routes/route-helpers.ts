import type { ServerResponse } from 'node:http';
import { VERSION } from '../../version.js';
import type { JsonObject, RequestMessage } from '../jsonrpc/message.js';
import type { ClientSession } from '../sessions.js';
import { SSE_HEADERS } from '../client-stream.js';
import type { Envelope } from '../upstream/modern-exchange.js';

/** How the gateway introduces itself to an upstream it holds a session with. */
export const GATEWAY_CLIENT_INFO: JsonObject = Object.freeze({ name: 'portcullis', version: VERSION });

/**
 * The gateway passes server→client requests on to whichever client caused them, so it offers
 * the upstream what MCP clients commonly support; a client that can't answer gets to say so.
 */
export const GATEWAY_CLIENT_CAPABILITIES: JsonObject = Object.freeze({
  elicitation: {},
  sampling: {},
  roots: { listChanged: false },
});

/** The 2026-07-28 `_meta` envelope of requests the gateway makes on its own behalf. */
export const GATEWAY_ENVELOPE: Envelope = Object.freeze({ clientInfo: GATEWAY_CLIENT_INFO, capabilities: GATEWAY_CLIENT_CAPABILITIES });

export function sessionHeaders(session: ClientSession): Record<string, string> {
  return { 'mcp-session-id': session.id };
}

/** Requests a shared upstream session answers at the gateway (`ping`: the gateway is the peer). */
export function answerLocally(res: ServerResponse, request: RequestMessage): boolean {
  if (request.method !== 'ping') return false;
  const body = JSON.stringify({ jsonrpc: '2.0', id: request.id, result: {} });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  return true;
}

/**
 * A 2025-era standalone GET stream the gateway serves itself: it joins `audience` (where
 * broadcasts such as list changes are written) and the session's own streams, and leaves both
 * when the client goes.
 */
export function openGatewayStream(res: ServerResponse, session: ClientSession, audience: Set<ServerResponse>): void {
  res.writeHead(200, { ...SSE_HEADERS, ...sessionHeaders(session) });
  res.flushHeaders();
  audience.add(res);
  session.streams.add(res);
  res.once('close', () => {
    audience.delete(res);
    session.streams.delete(res);
  });
}
