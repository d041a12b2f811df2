import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { ClientStream, type FinalHook } from './client-stream.js';
import type { JsonObject, NotificationMessage, RequestMessage, ResponseMessage } from './jsonrpc/message.js';
import type { LegacyChannel } from './upstream/legacy-channel.js';
import type { CallSink, PendingCall } from './upstream/id-router.js';
import { RpcCode, toWireError, wireError } from './wire-error.js';

const SUSPENSION_TTL_MS = 10 * 60_000;
const TOKEN_PREFIX = 'pcs_';

type Held =
  | { kind: 'notify'; message: NotificationMessage }
  | { kind: 'request'; message: RequestMessage }
  | { kind: 'final'; message: ResponseMessage }
  | { kind: 'fail'; err: Error };

interface Suspension {
  readonly owner: string;
  readonly call: PendingCall;
  token: string;
  /** Server requests the client has been asked to answer, by their gateway id. */
  readonly open: Map<string, RequestMessage>;
  readonly held: Held[];
  timer: NodeJS.Timeout | undefined;
}

/**
 * Lets a 2026-07-28 client use a 2025-era upstream's server→client requests. The upstream sends
 * `elicitation/create` (say) mid-call and waits; the client instead gets an `input_required`
 * result and retries with `inputResponses`. Between the two, the gateway keeps the upstream call
 * open and remembers it under an unguessable `requestState` bound to the caller.
 */
export class MrtrBridge {
  readonly #suspended = new Map<string, Suspension>();

  serve(channel: LegacyChannel, owner: string, request: RequestMessage, res: ServerResponse, observer?: FinalHook): void {
    const state = request.params?.requestState;
    if (typeof state === 'string' && state.startsWith(TOKEN_PREFIX)) {
      this.#resume(channel, owner, state, request, new ClientStream(res, {}, observer));
      return;
    }
    let call: PendingCall | undefined;
    // A server request can only arrive over I/O, after `channel.call` has handed back the call.
    const sink = this.#attachedSink(channel, owner, request, new ClientStream(res, {}, observer), () => call!);
    void channel.call(owner, request, sink).then((c) => (call = c));
  }

  #attachedSink(
    channel: LegacyChannel,
    owner: string,
    request: RequestMessage,
    stream: ClientStream,
    call: () => PendingCall,
    existing?: Suspension,
  ): CallSink {
    return {
      notify: (m) => stream.event(m),
      serverRequest: (m) => {
        const s = this.#suspend(owner, call(), m, existing);
        stream.final(inputRequired(request.id, s));
      },
      final: (m) => {
        m.id = request.id;
        stream.final(complete(m, request.method));
      },
      fail: (err) => stream.fail(toWireError(err, channel.server, request.id)),
    };
  }

  #suspend(owner: string, call: PendingCall, asked: RequestMessage, existing?: Suspension): Suspension {
    const s: Suspension = existing ?? { owner, call, token: '', open: new Map(), held: [], timer: undefined };
    s.open.set(String(asked.id), asked);
    this.#suspended.delete(s.token);
    clearTimeout(s.timer);
    s.token = `${TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
    this.#suspended.set(s.token, s);
    s.timer = setTimeout(() => {
      this.#suspended.delete(s.token);
      s.call.cancel('the client never answered');
    }, SUSPENSION_TTL_MS);
    s.timer.unref();
    // Until the client retries, whatever the upstream sends for the call waits here.
    s.call.sink = holdingSink((h) => {
      if (h.kind === 'request') s.open.set(String(h.message.id), h.message);
      else s.held.push(h);
    });
    return s;
  }

  #resume(channel: LegacyChannel, owner: string, token: string, request: RequestMessage, stream: ClientStream): void {
    const s = this.#suspended.get(token);
    if (!s || s.owner !== owner) {
      stream.fail(wireError(400, RpcCode.INVALID_PARAMS, 'Invalid params: unknown or expired requestState', { id: request.id }));
      return;
    }
    const responses = (request.params?.inputResponses ?? {}) as JsonObject;
    for (const [key, asked] of s.open) {
      if (!(key in responses)) continue;
      channel.respond(owner, { kind: 'response', id: asked.id, result: responses[key] as JsonObject });
      s.open.delete(key);
    }
    if (s.open.size > 0) {
      // Some questions are still unanswered: ask them again and keep holding the call.
      this.#suspend(owner, s.call, s.open.values().next().value!, s);
      stream.final(inputRequired(request.id, s));
      return;
    }
    this.#suspended.delete(token);
    clearTimeout(s.timer);
    const sink = this.#attachedSink(channel, owner, request, stream, () => s.call, s);
    s.call.sink = sink;
    for (const h of s.held.splice(0)) {
      if (h.kind === 'notify') sink.notify(h.message);
      else if (h.kind === 'final') sink.final(h.message);
      else if (h.kind === 'fail') sink.fail(h.err);
    }
  }
}

function holdingSink(hold: (h: Held) => void): CallSink {
  return {
    notify: (message) => hold({ kind: 'notify', message }),
    serverRequest: (message) => hold({ kind: 'request', message }),
    final: (message) => hold({ kind: 'final', message }),
    fail: (err) => hold({ kind: 'fail', err }),
  };
}

function inputRequired(id: RequestMessage['id'], s: Suspension): ResponseMessage {
  const inputRequests: JsonObject = {};
  for (const [key, m] of s.open) inputRequests[key] = { method: m.method, params: m.params ?? {} };
  return { kind: 'response', id, result: { resultType: 'input_required', inputRequests, requestState: s.token } };
}

const CACHEABLE = new Set(['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read']);

/**
 * 2026-07-28 results carry `resultType`, and list/read results cache hints; a 2025-era
 * upstream's results have neither. `ttlMs: 0` + `private` promises nothing it can't keep.
 */
function complete(m: ResponseMessage, method: string): ResponseMessage {
  const r = m.result;
  if (!r) return m;
  if (r.resultType === undefined) r.resultType = 'complete';
  if (CACHEABLE.has(method)) {
    if (typeof r.ttlMs !== 'number') r.ttlMs = 0;
    if (r.cacheScope !== 'public' && r.cacheScope !== 'private') r.cacheScope = 'private';
  }
  return m;
}
