import { PortcullisError } from '../../errors.js';
import { ClientStream } from '../client-stream.js';
import type { JsonObject, Message, RequestMessage, ResponseMessage } from '../jsonrpc/message.js';
import type { ClientSession } from '../sessions.js';
import type { AskCaller, ModernExchange } from '../upstream/modern-exchange.js';
import { RpcCode, sendWireError, toWireError, wireError } from '../wire-error.js';
import { answerLocally, GATEWAY_ENVELOPE } from './route-helpers.js';
import type { McpContext } from './server-route.js';

const ANSWER_TIMEOUT_MS = 10 * 60_000;

/**
 * Serves a 2025-era client session on a 2026-07-28 upstream by speaking 2026-07-28 upstream: each
 * request gets the `_meta` envelope from the session's `initialize`, and an `input_required`
 * result becomes real `elicitation/create` (etc.) requests to the client, whose answers the
 * gateway sends back on the retry. Without this, a stateless upstream could never ask a 2025-era
 * client anything.
 */
export class LegacyOnModern {
  readonly #exchange: ModernExchange;
  readonly #waiting = new Map<string, { sessionId: string; resolve(m: ResponseMessage): void }>();
  readonly #inFlight = new Map<string, AbortController>();
  #seq = 0;

  constructor(exchange: ModernExchange) {
    this.#exchange = exchange;
  }

  /** The `initialize` result for a client, built from the upstream's `server/discover`. */
  initializeResult(version: string): Promise<JsonObject> {
    return this.#exchange.initializeResult(version, GATEWAY_ENVELOPE);
  }

  async handle(ctx: McpContext, session: ClientSession, message: Message): Promise<void> {
    if (message.kind === 'response') {
      const waiter = this.#waiting.get(String(message.id));
      if (!waiter || waiter.sessionId !== session.id) {
        return sendWireError(ctx.res, wireError(400, RpcCode.INVALID_REQUEST, 'Invalid Request: no pending server request has this id', { id: message.id }));
      }
      this.#waiting.delete(String(message.id));
      waiter.resolve(message);
      ctx.res.writeHead(202).end();
      return;
    }
    if (message.kind === 'notification') {
      // Closing the upstream stream is how 2026-07-28 cancels; `initialized` has no counterpart.
      if (message.method === 'notifications/cancelled') this.#inFlight.get(`${session.id}:${String(message.params?.requestId)}`)?.abort();
      ctx.res.writeHead(202).end();
      return;
    }
    if (answerLocally(ctx.res, message)) return;
    await this.#call(ctx, session, message);
  }

  async #call(ctx: McpContext, session: ClientSession, request: RequestMessage): Promise<void> {
    const stream = new ClientStream(ctx.res, {}, ctx.outcome);
    const key = `${session.id}:${String(request.id)}`;
    const abort = new AbortController();
    this.#inFlight.set(key, abort);
    try {
      const envelope = { clientInfo: session.initParams.clientInfo, capabilities: session.initParams.capabilities };
      const ask: AskCaller = (method, params) => this.#askClient(session, stream, method, params);
      stream.final(await this.#exchange.call(request, envelope, ask, (m) => stream.event(m), abort.signal));
    } catch (err) {
      stream.fail(toWireError(err, this.#exchange.server, request.id));
    } finally {
      this.#inFlight.delete(key);
    }
  }

  /** Sends one embedded request to the client as a real server→client request; resolves with its result. */
  async #askClient(session: ClientSession, stream: ClientStream, method: string, params: JsonObject): Promise<JsonObject> {
    const id = `pm-${++this.#seq}`;
    const answer = new Promise<ResponseMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new PortcullisError('UPSTREAM_TIMEOUT', `the client did not answer ${method}`));
      }, ANSWER_TIMEOUT_MS);
      this.#waiting.set(id, { sessionId: session.id, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
    stream.event({ kind: 'request', id, method, params });
    const response = await answer;
    if (response.error) throw new PortcullisError('UPSTREAM_PROTOCOL', `the client refused ${method}: ${response.error.message}`);
    return response.result ?? {};
  }
}
