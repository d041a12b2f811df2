import { PortcullisError } from '../../errors.js';
import { serializeMessage, type JsonObject, type Message, type RequestMessage, type ResponseMessage } from '../jsonrpc/message.js';
import { encodeHeaderValue, META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION, META_SERVER_INFO, MODERN_VERSIONS, nameOf } from '../protocol.js';
import type { HttpUpstream, UpstreamResponse } from './http-upstream.js';
import { forEachUpstreamMessage, type MessageLimits } from './read-body.js';

const VERSION = MODERN_VERSIONS[0];
const MAX_ROUNDS = 8;

/** Who the gateway speaks for upstream: the `_meta` envelope every 2026-07-28 request carries. */
export interface Envelope {
  readonly clientInfo: unknown;
  readonly capabilities: unknown;
}

/**
 * How a 2025-era caller is asked what a 2026-07-28 upstream wants to know (`input_required`):
 * each embedded request becomes a real server→client request, and its result is the answer.
 */
export type AskCaller = (method: string, params: JsonObject) => Promise<JsonObject>;

/**
 * Speaks 2026-07-28 to one HTTP upstream on behalf of 2025-era callers (a client session of
 * `/mcp/{server}`, or the sessions `/mcp` holds): stateless requests with the envelope, and the
 * multi-round-trip dance turned into server→client requests.
 */
export class ModernExchange {
  readonly #upstream: HttpUpstream;
  readonly #limits: MessageLimits;

  constructor(upstream: HttpUpstream, limits: MessageLimits) {
    this.#upstream = upstream;
    this.#limits = limits;
  }

  get server(): string {
    return this.#upstream.name;
  }

  /** An `initialize` result for a 2025-era caller, built from the upstream's `server/discover`. */
  async initializeResult(version: string, envelope: Envelope): Promise<JsonObject> {
    const final = await this.finalOf(await this.discover(envelope), 'server/discover', () => undefined);
    if (final.error) throw new PortcullisError('UPSTREAM_PROTOCOL', `server/discover failed: ${final.error.message}`);
    const d = final.result ?? {};
    const meta = (d._meta ?? {}) as JsonObject;
    const result: JsonObject = { protocolVersion: version, capabilities: d.capabilities ?? {}, serverInfo: meta[META_SERVER_INFO] ?? { name: this.#upstream.name, version: '0' } };
    if (typeof d.instructions === 'string') result.instructions = d.instructions;
    return result;
  }

  /**
   * One request to its final answer: sent with the envelope, and while the upstream answers
   * `input_required`, its questions go to `ask` and the request is sent again with the answers.
   */
  async call(request: RequestMessage, envelope: Envelope, ask: AskCaller, onNotification: (m: Message) => void, signal?: AbortSignal): Promise<ResponseMessage> {
    let params: JsonObject = request.params ?? {};
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const final = await this.exchange(request.id, request.method, { ...params, _meta: envelopeMeta(params._meta as JsonObject | undefined, envelope) }, onNotification, signal);
      if (final.result?.resultType !== 'input_required') return final;
      const inputResponses: JsonObject = {};
      const asked = Object.entries((final.result.inputRequests ?? {}) as JsonObject);
      await Promise.all(
        asked.map(async ([key, raw]) => {
          const { method, params: p } = (raw ?? {}) as { method?: unknown; params?: unknown };
          if (typeof method !== 'string') throw new PortcullisError('UPSTREAM_PROTOCOL', `input request ${key} has no method`);
          inputResponses[key] = await ask(method, (p ?? {}) as JsonObject);
        }),
      );
      params = { ...request.params, inputResponses };
      if (typeof final.result.requestState === 'string') params.requestState = final.result.requestState;
    }
    throw new PortcullisError('UPSTREAM_PROTOCOL', `still asking for input after ${MAX_ROUNDS} rounds`);
  }

  /** One 2026-07-28 request upstream; notifications go to `onNotification`, the response is returned. */
  async exchange(id: RequestMessage['id'], method: string, params: JsonObject, onNotification: (m: Message) => void, signal?: AbortSignal): Promise<ResponseMessage> {
    return this.finalOf(await this.send(id, method, params, signal), method, onNotification);
  }

  /**
   * `server/discover` as `who`: the upstream's answer, unread. Rejects only when the request did
   * not reach the upstream (the era probe tells that apart from a server that cannot answer it).
   */
  discover(who: Envelope, signal?: AbortSignal): Promise<UpstreamResponse> {
    return this.send('portcullis-discover', 'server/discover', { _meta: envelopeMeta(undefined, who) }, signal);
  }

  /** Reads an answer to its response; notifications before it go to `onNotification`. */
  async finalOf(res: UpstreamResponse, method: string, onNotification: (m: Message) => void): Promise<ResponseMessage> {
    let final: ResponseMessage | undefined;
    await forEachUpstreamMessage(res, this.#limits, (m) => {
      if (m.kind === 'response') final = m;
      else if (m.kind === 'notification') onNotification(m);
    });
    if (!final) throw new PortcullisError('UPSTREAM_PROTOCOL', `${method} answered HTTP ${res.statusCode} without a response`);
    return final;
  }

  send(id: RequestMessage['id'], method: string, params: JsonObject, signal?: AbortSignal): Promise<UpstreamResponse> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': VERSION,
      'mcp-method': method,
    };
    const name = nameOf(method, params);
    if (name !== undefined) headers['mcp-name'] = encodeHeaderValue(name);
    return this.#upstream.post(serializeMessage({ kind: 'request', id, method, params }), headers, signal);
  }
}

function envelopeMeta(meta: JsonObject | undefined, envelope: Envelope): JsonObject {
  return {
    ...meta,
    [META_PROTOCOL_VERSION]: VERSION,
    [META_CLIENT_INFO]: envelope.clientInfo ?? { name: 'unknown', version: '0' },
    [META_CLIENT_CAPABILITIES]: envelope.capabilities ?? {},
  };
}
