import { PortcullisError } from '../errors.js';

export interface SseEvent {
  event: string | undefined;
  data: string;
  id: string | undefined;
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Incremental parser for an upstream `text/event-stream` (WHATWG SSE). Each event is handed on as
 * soon as its blank line arrives, so a progress notification reaches the client before the tool
 * finishes. An event larger than `maxEventBytes` fails the stream instead of growing memory.
 * Lines end in LF or CRLF (what MCP servers send); a lone CR is not treated as a line end.
 */
export class SseParser {
  #pieces: Buffer[] = [];
  #pendingBytes = 0;
  #data: string[] = [];
  #eventBytes = 0;
  #event: string | undefined;
  #id: string | undefined;
  readonly #maxEventBytes: number;
  readonly #onEvent: (e: SseEvent) => void;

  constructor(maxEventBytes: number, onEvent: (e: SseEvent) => void) {
    this.#maxEventBytes = maxEventBytes;
    this.#onEvent = onEvent;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(LF, start);
      if (nl === -1) {
        if (start < chunk.length) this.#hold(chunk.subarray(start));
        return;
      }
      let line: Buffer;
      if (this.#pieces.length === 0) {
        line = chunk.subarray(start, nl);
      } else {
        this.#pieces.push(chunk.subarray(start, nl));
        line = Buffer.concat(this.#pieces);
        this.#pieces = [];
        this.#pendingBytes = 0;
      }
      const end = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
      this.#line(line.toString('utf8', 0, end));
      start = nl + 1;
    }
  }

  /** Flushes a final event that was not followed by a blank line. */
  end(): void {
    if (this.#pieces.length > 0) {
      const line = Buffer.concat(this.#pieces).toString('utf8');
      this.#pieces = [];
      this.#line(line);
    }
    this.#dispatch();
  }

  #hold(piece: Buffer): void {
    this.#pendingBytes += piece.length;
    if (this.#pendingBytes + this.#eventBytes > this.#maxEventBytes) this.#tooLarge();
    // Copy: the caller may reuse the chunk's memory once push returns.
    this.#pieces.push(Buffer.from(piece));
  }

  #line(line: string): void {
    if (line.length === 0) {
      this.#dispatch();
      return;
    }
    if (line.charCodeAt(0) === 0x3a) return; // comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    if (field === 'data') {
      this.#eventBytes += value.length + 1;
      if (this.#eventBytes > this.#maxEventBytes) this.#tooLarge();
      this.#data.push(value);
    } else if (field === 'event') this.#event = value;
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
  }

  #dispatch(): void {
    if (this.#data.length > 0) {
      const data = this.#data.length === 1 ? this.#data[0] : this.#data.join('\n');
      this.#onEvent({ event: this.#event, data, id: this.#id });
    }
    this.#data = [];
    this.#eventBytes = 0;
    this.#event = undefined;
    this.#id = undefined;
  }

  #tooLarge(): never {
    throw new PortcullisError('RESPONSE_TOO_LARGE', `an SSE event exceeds ${this.#maxEventBytes} bytes`);
  }
}

/** One SSE `message` event carrying a JSON-RPC message. */
export function formatSseEvent(json: string, id?: string): string {
  return id === undefined ? `event: message\ndata: ${json}\n\n` : `event: message\nid: ${id}\ndata: ${json}\n\n`;
}
