import { PortcullisError } from '../../errors.js';
import type { JsonObject, JsonRpcId, Message, RequestMessage, ResponseMessage } from '../jsonrpc/message.js';
import { GATEWAY_ENVELOPE } from '../routes/route-helpers.js';
import type { LegacyLink, LinkEvents, LinkFactory } from './legacy-link.js';
import type { Envelope, ModernExchange } from './modern-exchange.js';

/**
 * A 2026-07-28 HTTP upstream as the session a `LegacyChannel` holds, so `/mcp` serves a server
 * that has no sessions at all: `initialize` is answered from `server/discover`, each request goes
 * up on its own with the envelope of the channel's `initialize`, an `input_required` answer
 * becomes server→client requests tied to the call that caused them (answered, the request goes
 * up again), and cancelling a call closes its upstream stream, the 2026-07-28 signal.
 */
export function httpModernLinkFactory(exchange: ModernExchange): LinkFactory {
  return async (events) => new HttpModernLink(exchange, events);
}

class HttpModernLink implements LegacyLink {
  readonly #exchange: ModernExchange;
  readonly #events: LinkEvents;
  readonly #closing = new AbortController();
  readonly #inFlight = new Map<JsonRpcId, AbortController>();
  /** Server→client requests this link made, by id, until the client answers. */
  readonly #asked = new Map<string, (answer: ResponseMessage | Error) => void>();
  #envelope: Envelope = GATEWAY_ENVELOPE;
  #seq = 0;

  constructor(exchange: ModernExchange, events: LinkEvents) {
    this.#exchange = exchange;
    this.#events = events;
  }

  async send(message: Message): Promise<void> {
    if (this.#closing.signal.aborted) throw new PortcullisError('UPSTREAM_UNAVAILABLE', 'session closed');
    if (message.kind === 'response') {
      const settle = this.#asked.get(String(message.id));
      this.#asked.delete(String(message.id));
      settle?.(message);
      return;
    }
    if (message.kind === 'notification') {
      if (message.method === 'notifications/cancelled') this.#inFlight.get(message.params?.requestId as JsonRpcId)?.abort();
      return;
    }
    if (message.method === 'initialize') {
      const p = message.params ?? {};
      this.#envelope = { clientInfo: p.clientInfo, capabilities: p.capabilities };
      const result = await this.#exchange.initializeResult(String(p.protocolVersion), this.#envelope);
      this.#events.onMessage({ kind: 'response', id: message.id, result });
      return;
    }
    await this.#call(message);
  }

  async close(): Promise<void> {
    this.#closing.abort();
    const closed = new PortcullisError('UPSTREAM_CLOSED', 'session closed');
    for (const settle of this.#asked.values()) settle(closed);
    this.#asked.clear();
  }

  /** Resolves once the call has its final answer (handed to `onMessage`); rejects if it failed. */
  async #call(request: RequestMessage): Promise<void> {
    const cancel = new AbortController();
    this.#inFlight.set(request.id, cancel);
    const signal = AbortSignal.any([cancel.signal, this.#closing.signal]);
    try {
      const final = await this.#exchange.call(
        request,
        this.#envelope,
        (method, params) => this.#ask(request.id, method, params, signal),
        (m) => this.#events.onMessage(m, request.id),
        signal,
      );
      this.#events.onMessage(final);
    } finally {
      this.#inFlight.delete(request.id);
    }
  }

  #ask(relatedTo: JsonRpcId, method: string, params: JsonObject, signal: AbortSignal): Promise<JsonObject> {
    const id = `pm-${++this.#seq}`;
    return new Promise<JsonObject>((resolve, reject) => {
      const settle = (answer: ResponseMessage | Error) => {
        this.#asked.delete(id);
        signal.removeEventListener('abort', abandoned);
        if (answer instanceof Error) reject(answer);
        else if (answer.error) reject(new PortcullisError('UPSTREAM_PROTOCOL', `the client refused ${method}: ${answer.error.message}`));
        else resolve(answer.result ?? {});
      };
      const abandoned = () => settle(new PortcullisError('UPSTREAM_CLOSED', `${method} was abandoned with its call`));
      signal.addEventListener('abort', abandoned, { once: true });
      this.#asked.set(id, settle);
      this.#events.onMessage({ kind: 'request', id, method, params }, relatedTo);
    });
  }
}
