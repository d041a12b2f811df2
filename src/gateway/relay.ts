import type { ServerResponse } from 'node:http';
import { PortcullisError } from '../errors.js';
import { serializeMessage, type JsonRpcId, type Message } from './jsonrpc/message.js';
import { errorResponse, SSE_HEADERS, type FinalHook } from './client-stream.js';
import { formatSseEvent, SseParser } from './sse-parser.js';
import { isEventStream, isJson, parseUpstreamMessage, type MessageLimits } from './upstream/read-body.js';
import type { UpstreamResponse } from './upstream/http-upstream.js';
import { serializeWireError, toWireError } from './wire-error.js';

export interface RelayOptions {
  server: string;
  limits: MessageLimits;
  /** The gateway's `Mcp-Session-Id` for the client, when the answer belongs to a session. */
  sessionId?: string;
  /** The id of the client request being answered, for an error sent mid-stream. */
  requestId: JsonRpcId | null;
  /** Sees (and may replace) the final response, or hears the error that ended the stream. */
  onFinal?: FinalHook;
  /** Sees (and may rewrite) each message streamed before the final response. */
  onIntermediate?: (message: Message) => Message;
}

/**
 * Streams an upstream answer back to the client: JSON as one validated, re-serialised message;
 * SSE event by event as it arrives (never buffered whole), each under the same caps as client
 * input. Errors before the first byte is sent are thrown for the caller to map; after it, they
 * end the stream with a JSON-RPC error event.
 *
 * hot path (JSON): one capped read, one parse, one stringify.
 */
export async function relayResponse(up: UpstreamResponse, res: ServerResponse, opts: RelayOptions): Promise<Message | undefined> {
  const contentType = up.headers['content-type'];
  const status = up.statusCode;
  if (status === 202 || status === 204) {
    await up.body.dump();
    // A request is owed a response: an upstream that accepts one without answering has failed it.
    if (opts.requestId !== null) throw new PortcullisError('UPSTREAM_PROTOCOL', `HTTP ${status} with no response to the request`);
    res.writeHead(status, opts.sessionId === undefined ? undefined : { 'mcp-session-id': opts.sessionId }).end();
    return undefined;
  }
  if (isEventStream(contentType) && status === 200) return relaySse(up, res, opts);
  if (!isJson(contentType)) {
    await up.body.dump();
    throw new PortcullisError('UPSTREAM_PROTOCOL', `HTTP ${status} with content-type ${String(contentType)}`);
  }
  const bytes = await up.body.bytes(opts.limits.maxResponseBytes);
  let message = parseUpstreamMessage(bytes, opts.limits);
  // The validation refused everything two parsers could read differently (duplicate keys, BOM,
  // trailing bytes), so an answer nobody replaced goes out as the bytes that were validated.
  let body: Buffer | string = bytes;
  const replaced = message.kind === 'response' ? opts.onFinal?.(message, status) : undefined;
  if (replaced) {
    message = replaced;
    body = serializeMessage(message);
  }
  const { sessionId } = opts;
  res.writeHead(
    status,
    sessionId === undefined
      ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
      : { 'mcp-session-id': sessionId, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  );
  res.end(body);
  return message;
}

async function relaySse(up: UpstreamResponse, res: ServerResponse, opts: RelayOptions): Promise<Message | undefined> {
  // An answer to a request opens its stream with the first valid event, so an upstream whose
  // first event is already broken or oversized still gets the client a plain 502. A standalone
  // stream may stay quiet for long; the client sees its 200 at once.
  let open = false;
  const openStream = () => {
    if (open) return;
    open = true;
    res.writeHead(200, opts.sessionId === undefined ? SSE_HEADERS : { 'mcp-session-id': opts.sessionId, ...SSE_HEADERS });
  };
  if (opts.requestId === null) {
    openStream();
    res.flushHeaders();
  }
  let last: Message | undefined;
  const onClientGone = () => up.body.destroy();
  res.once('close', onClientGone);
  const parser = new SseParser(opts.limits.maxResponseBytes, (event) => {
    let message = parseUpstreamMessage(event.data, opts.limits);
    if (message.kind === 'response') {
      if (opts.onFinal) message = opts.onFinal(message, 200) ?? message;
      last = message;
    } else if (opts.onIntermediate) {
      message = opts.onIntermediate(message);
    }
    openStream();
    res.write(formatSseEvent(serializeMessage(message), event.id));
  });
  try {
    for await (const chunk of up.body) {
      parser.push(chunk);
      if (res.writableNeedDrain) await new Promise((resolve) => res.once('drain', resolve));
    }
    parser.end();
    // The gateway cannot resume a stream for the client: one that ends unanswered fails the request.
    if (last === undefined && opts.requestId !== null) throw new PortcullisError('UPSTREAM_PROTOCOL', 'the stream ended with no response to the request');
    openStream();
    res.end();
  } catch (err) {
    if (!open) throw err; // nothing sent yet: the caller answers with an HTTP error
    // A stream that breaks after its response went out has answered already: just end it.
    const answered = last !== undefined || opts.requestId === null;
    const wire = toWireError(err, opts.server, opts.requestId);
    if (!answered) opts.onFinal?.(errorResponse(wire), wire.status);
    if (!res.writableEnded && !res.destroyed) res.end(answered ? undefined : formatSseEvent(serializeWireError(wire)));
  } finally {
    res.off('close', onClientGone);
  }
  return last;
}
