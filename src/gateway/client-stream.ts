import type { ServerResponse } from 'node:http';
import { serializeMessage, type Message, type ResponseMessage } from './jsonrpc/message.js';
import { formatSseEvent } from './sse-parser.js';
import type { WireError } from './wire-error.js';

/**
 * Sees the final response of a client request before the client does, whatever produced it
 * (relay, shared child, bridge), and may replace it: where policy filters `tools/list`, settles
 * budgets, and the audit writes the outcome.
 */
export type FinalHook = (final: ResponseMessage, status: number) => ResponseMessage | void;

/**
 * The answer to one client POST when the gateway produces it message by message (held sessions,
 * stdio children): a single JSON body if the final response is the first message, otherwise an
 * SSE stream opened on the first notification or server request.
 */
export class ClientStream {
  readonly #res: ServerResponse;
  readonly #headers: Record<string, string>;
  readonly #observer: FinalHook | undefined;
  #sse = false;

  constructor(res: ServerResponse, headers: Record<string, string> = {}, observer?: FinalHook) {
    this.#res = res;
    this.#headers = headers;
    this.#observer = observer;
  }

  get closed(): boolean {
    return this.#res.writableEnded || this.#res.destroyed;
  }

  /** An intermediate message (notification or server→client request). */
  event(message: Message): void {
    if (this.closed) return;
    if (!this.#sse) this.#openSse();
    this.#res.write(formatSseEvent(serializeMessage(message)));
  }

  /** The final response; ends the HTTP answer. The observer hears of it even if the client left. */
  final(message: ResponseMessage, status = 200): void {
    if (this.#observer) message = this.#observer(message, status) ?? message;
    if (this.closed) return;
    const json = serializeMessage(message);
    if (this.#sse) {
      this.#res.end(formatSseEvent(json));
      return;
    }
    this.#res.writeHead(status, {
      ...this.#headers,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(json),
    });
    this.#res.end(json);
  }

  /** Ends the answer with a JSON-RPC error (HTTP status too, if nothing was streamed yet). */
  fail(wire: WireError): void {
    this.final(errorResponse(wire), wire.status);
  }

  #openSse(): void {
    this.#sse = true;
    this.#res.writeHead(200, { ...this.#headers, ...SSE_HEADERS });
    this.#res.flushHeaders();
  }
}

export function errorResponse(wire: WireError): ResponseMessage {
  const error: { code: number; message: string; data?: unknown } = { code: wire.code, message: wire.message };
  if (wire.data !== undefined) error.data = wire.data;
  return { kind: 'response', id: wire.id ?? null, error };
}

export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
});
