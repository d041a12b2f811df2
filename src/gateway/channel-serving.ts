import type { ServerResponse } from 'node:http';
import { ClientStream, type FinalHook } from './client-stream.js';
import type { JsonObject, RequestMessage, ResponseMessage } from './jsonrpc/message.js';
import { META_SERVER_INFO, MODERN_VERSIONS } from './protocol.js';
import type { CallSink, LegacyChannel } from './upstream/legacy-channel.js';
import { toWireError } from './wire-error.js';

/**
 * A client's request answered through a shared upstream session: notifications and server→client
 * requests stream as SSE, the response ends the answer (plain JSON if nothing came before it).
 */
export function serveChannelCall(
  channel: LegacyChannel,
  owner: string,
  request: RequestMessage,
  res: ServerResponse,
  headers?: Record<string, string>,
  observer?: FinalHook,
): void {
  const stream = new ClientStream(res, headers, observer);
  void channel.call(owner, request, streamSink(stream, channel.server, request.id));
}

export function streamSink(stream: ClientStream, server: string, requestId: RequestMessage['id']): CallSink {
  return {
    notify: (m) => stream.event(m),
    serverRequest: (m) => stream.event(m),
    final: (m) => stream.final(m),
    fail: (err) => stream.fail(toWireError(err, server, requestId)),
  };
}

/** The `initialize` result a client gets from a shared session, at the version it negotiated. */
export function initializeResultFor(init: JsonObject, protocolVersion: string): JsonObject {
  const result: JsonObject = {
    protocolVersion,
    capabilities: init.capabilities ?? {},
    serverInfo: init.serverInfo ?? { name: 'upstream', version: '0' },
  };
  if (typeof init.instructions === 'string') result.instructions = init.instructions;
  return result;
}

/** `server/discover` answered on behalf of a 2025-era upstream, from its `initialize` result. */
export function discoverResultFor(init: JsonObject): JsonObject {
  const result: JsonObject = {
    resultType: 'complete',
    supportedVersions: [...MODERN_VERSIONS],
    capabilities: init.capabilities ?? {},
    ttlMs: 0,
    cacheScope: 'private',
    _meta: { [META_SERVER_INFO]: init.serverInfo ?? { name: 'upstream', version: '0' } },
  };
  if (typeof init.instructions === 'string') result.instructions = init.instructions;
  return result;
}

export function resultMessage(id: RequestMessage['id'], result: JsonObject): ResponseMessage {
  return { kind: 'response', id, result };
}
