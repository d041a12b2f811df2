import { PortcullisError } from '../../errors.js';
import { parseMessage, parseMessageText } from '../jsonrpc/parse-message.js';
import type { Message } from '../jsonrpc/message.js';
import { SseParser } from '../sse-parser.js';
import type { UpstreamResponse } from './http-upstream.js';

export interface MessageLimits {
  readonly maxResponseBytes: number;
  readonly maxDepth: number;
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
    for await (const chunk of body) parser.push(chunk);
    parser.end();
    return;
  }
  // hot path: the aggregated endpoint's answers.
  const bytes = await body.bytes(limits.maxResponseBytes);
  if (bytes.length === 0) return;
  onMessage(parseUpstreamMessage(bytes, limits));
}
