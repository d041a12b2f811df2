import type { Readable } from 'node:stream';
import { PortcullisError } from '../../errors.js';
import { parseMessage, parseMessageText } from '../jsonrpc/parse-message.js';
import type { Message } from '../jsonrpc/message.js';
import { SseParser } from '../sse-parser.js';
import type { UpstreamResponse } from './http-upstream.js';

export interface MessageLimits {
  readonly maxResponseBytes: number;
  readonly maxDepth: number;
}

/**
 * Reads a whole body, refusing (and discarding the rest of) one larger than `max` bytes.
 * hot path: with a declared length under the cap, undici's own consumer reads it in one go.
 */
export async function readCapped(body: Readable, max: number, declaredLength?: string | string[]): Promise<Buffer> {
  if (typeof declaredLength === 'string') {
    const n = Number(declaredLength);
    if (n > max) {
      body.destroy();
      throw new PortcullisError('RESPONSE_TOO_LARGE', `body of ${n} bytes exceeds ${max}`);
    }
    const consumable = body as Readable & { arrayBuffer?: () => Promise<ArrayBuffer> };
    if (typeof consumable.arrayBuffer === 'function') {
      const bytes = Buffer.from(await consumable.arrayBuffer());
      // A server that sends more than it declared is broken; undici refuses that on its own.
      if (bytes.length > max) throw new PortcullisError('RESPONSE_TOO_LARGE', `body exceeds ${max} bytes`);
      return bytes;
    }
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > max) {
      body.destroy();
      throw new PortcullisError('RESPONSE_TOO_LARGE', `body exceeds ${max} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
}

/** Validates one upstream JSON-RPC message under the same rules as client input. */
export function parseUpstreamMessage(bytes: Uint8Array | string, limits: MessageLimits): Message {
  const outcome = typeof bytes === 'string' ? parseMessageText(bytes, limits.maxDepth) : parseMessage(bytes, limits.maxDepth);
  if (!outcome.ok) throw new PortcullisError('UPSTREAM_PROTOCOL', outcome.error.message);
  return outcome.message;
}

export function isEventStream(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && contentType.startsWith('text/event-stream');
}

export function isJson(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && contentType.startsWith('application/json');
}

/**
 * Feeds every message of an upstream answer (one JSON object, or an SSE stream) to `onMessage`
 * as it arrives. Used where the gateway itself is the client (probes, held sessions).
 */
export async function forEachUpstreamMessage(res: UpstreamResponse, limits: MessageLimits, onMessage: (m: Message) => void): Promise<void> {
  const { body } = res;
  if (isEventStream(res.headers['content-type'])) {
    const parser = new SseParser(limits.maxResponseBytes, (e) => onMessage(parseUpstreamMessage(e.data, limits)));
    for await (const chunk of body) parser.push(chunk as Buffer);
    parser.end();
    return;
  }
  // hot path (the aggregated endpoint's answers): the declared length lets undici read it in one go.
  const bytes = await readCapped(body, limits.maxResponseBytes, res.headers['content-length']);
  if (bytes.length === 0) return;
  onMessage(parseUpstreamMessage(bytes, limits));
}
