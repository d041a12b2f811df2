import type { ServerResponse } from 'node:http';
import { formatSseEvent } from './sse-parser.js';

/**
 * The answer to one client POST when the gateway produces it message by message (held sessions,
 * stdio children): a single JSON body if the final response is the first message, otherwise an
 * SSE stream opened on the first notification or server request.
 */
export class ClientStream {
  readonly #res: ServerResponse;
  readonly #headers: Record<string, string>;
  #sse = false;

  constructor(res: ServerResponse, headers: Record<string, string> = {}) {
    this.#res = res;
    this.#headers = headers;
  }

  get closed(): boolean {
    return this.#res.writableEnded || this.#res.destroyed;
  }

  /** An intermediate message (notification or server→client request). */
  event(json: string): void {
    if (this.closed) return;
    if (!this.#sse) this.#openSse();
    this.#res.write(formatSseEvent(json));
  }

  /** The final response; ends the HTTP answer. */
  final(json: string, status = 200): void {
    if (this.closed) return;
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

  #openSse(): void {
    this.#sse = true;
    this.#res.writeHead(200, { ...this.#headers, ...SSE_HEADERS });
    this.#res.flushHeaders();
  }
}

export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
});
