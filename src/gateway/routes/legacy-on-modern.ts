import { PortcullisError } from '../../errors.js';
import { ClientStream } from '../client-stream.js';
import { serializeMessage, type JsonObject, type Message, type RequestMessage, type ResponseMessage } from '../jsonrpc/message.js';
import { encodeHeaderValue, META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION, META_SERVER_INFO, MODERN_VERSIONS, nameOf } from '../protocol.js';
import type { ClientSession } from '../sessions.js';
import type { HttpUpstream } from '../upstream/http-upstream.js';
import { forEachUpstreamMessage, type MessageLimits } from '../upstream/read-body.js';
import { RpcCode, sendWireError, toWireError, wireError } from '../wire-error.js';
import { answerLocally, GATEWAY_CLIENT_INFO } from './route-helpers.js';
import type { McpContext } from './server-route.js';

const MAX_ROUNDS = 8;
const ANSWER_TIMEOUT_MS = 10 * 60_000;
const VERSION = MODERN_VERSIONS[0];

/**
 * Serves a 2025-era client session on a 2026-07-28 upstream by speaking 2026-07-28 upstream: each
 * request gets the `_meta` envelope from the session's `initialize`, and an `input_required`
 * result becomes real `elicitation/create` (etc.) requests to the client, whose answers the
 * gateway sends back on the retry. Without this, a stateless upstream could never ask a 2025-era
 * client anything.
 */
export class LegacyOnModern {
  readonly #upstream: HttpUpstream;
  readonly #limits: MessageLimits;
  readonly #waiting = new Map<string, { sessionId: string; resolve(m: ResponseMessage): void }>();
  readonly #inFlight = new Map<string, AbortController>();
  #seq = 0;

  constructor(upstream: HttpUpstream, limits: MessageLimits) {
    this.#upstream = upstream;
    this.#limits = limits;
  }

  /** The `initialize` result for a client, built from the upstream's `server/discover`. */
  async initializeResult(version: string): Promise<JsonObject> {
    const final = await this.#exchange('portcullis-discover', 'server/discover', { _meta: envelopeMeta(undefined, GATEWAY_CLIENT_INFO, {}) }, () => undefined);
    if (final.error) throw new PortcullisError('UPSTREAM_PROTOCOL', `server/discover failed: ${final.error.message}`);
    const d = final.result ?? {};
    const meta = (d._meta ?? {}) as JsonObject;
    const result: JsonObject = { protocolVersion: version, capabilities: d.capabilities ?? {}, serverInfo: meta[META_SERVER_INFO] ?? { name: this.#upstream.name, version: '0' } };
    if (typeof d.instructions === 'string') result.instructions = d.instructions;
    return result;
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
      const init = session.initParams;
      let params: JsonObject = request.params ?? {};
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const meta = envelopeMeta(params._meta as JsonObject | undefined, init.clientInfo, init.capabilities);
        const final = await this.#exchange(request.id, request.method, { ...params, _meta: meta }, (m) => stream.event(m), abort.signal);
        if (final.result?.resultType !== 'input_required') {
          stream.final(final);
          return;
        }
        const inputResponses = await this.#askClient(session, stream, (final.result.inputRequests ?? {}) as JsonObject);
        params = { ...request.params, inputResponses };
        if (typeof final.result.requestState === 'string') params.requestState = final.result.requestState;
      }
      throw new PortcullisError('UPSTREAM_PROTOCOL', `still asking for input after ${MAX_ROUNDS} rounds`);
    } catch (err) {
      stream.fail(toWireError(err, this.#upstream.name, request.id));
    } finally {
      this.#inFlight.delete(key);
    }
  }

  /** Sends each embedded request to the client as a real server→client request; gathers the answers. */
  async #askClient(session: ClientSession, stream: ClientStream, inputRequests: JsonObject): Promise<JsonObject> {
    const answers: JsonObject = {};
    await Promise.all(
      Object.entries(inputRequests).map(async ([name, raw]) => {
        const asked = raw as { method?: unknown; params?: unknown };
        if (typeof asked.method !== 'string') throw new PortcullisError('UPSTREAM_PROTOCOL', `input request ${name} has no method`);
        const id = `pm-${++this.#seq}`;
        const answer = new Promise<ResponseMessage>((resolve, reject) => {
          const timer = setTimeout(() => {
            this.#waiting.delete(id);
            reject(new PortcullisError('UPSTREAM_TIMEOUT', `the client did not answer ${asked.method}`));
          }, ANSWER_TIMEOUT_MS);
          this.#waiting.set(id, { sessionId: session.id, resolve: (m) => (clearTimeout(timer), resolve(m)) });
        });
        stream.event({ kind: 'request', id, method: asked.method, params: (asked.params ?? {}) as JsonObject });
        const response = await answer;
        if (response.error) throw new PortcullisError('UPSTREAM_PROTOCOL', `the client refused ${asked.method}: ${response.error.message}`);
        answers[name] = response.result ?? {};
      }),
    );
    return answers;
  }

  /** One 2026-07-28 request upstream; notifications go to `onNotification`, the response is returned. */
  async #exchange(
    id: RequestMessage['id'],
    method: string,
    params: JsonObject,
    onNotification: (m: Message) => void,
    signal?: AbortSignal,
  ): Promise<ResponseMessage> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': VERSION,
      'mcp-method': method,
    };
    const name = nameOf(method, params);
    if (name !== undefined) headers['mcp-name'] = encodeHeaderValue(name);
    const res = await this.#upstream.post(serializeMessage({ kind: 'request', id, method, params }), headers, signal);
    let final: ResponseMessage | undefined;
    await forEachUpstreamMessage(res, this.#limits, (m) => {
      if (m.kind === 'response') final = m;
      else if (m.kind === 'notification') onNotification(m);
    });
    if (!final) throw new PortcullisError('UPSTREAM_PROTOCOL', `${method} answered HTTP ${res.statusCode} without a response`);
    return final;
  }
}

function envelopeMeta(meta: JsonObject | undefined, clientInfo: unknown, capabilities: unknown): JsonObject {
  return { ...meta, [META_PROTOCOL_VERSION]: VERSION, [META_CLIENT_INFO]: clientInfo ?? { name: 'unknown', version: '0' }, [META_CLIENT_CAPABILITIES]: capabilities ?? {} };
}
