import type { ServerResponse } from 'node:http';
import { VERSION } from '../../version.js';
import type { JsonObject, RequestMessage } from '../jsonrpc/message.js';
import type { ClientSession } from '../sessions.js';

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
