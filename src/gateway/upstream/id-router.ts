import { PortcullisError } from '../../errors.js';
import type { JsonObject, JsonRpcId, Message, NotificationMessage, RequestMessage, ResponseMessage } from '../jsonrpc/message.js';

/** Where everything that comes back for one client request goes. */
export interface CallSink {
  notify(message: NotificationMessage): void;
  /** A server→client request (elicitation, sampling, roots) carrying a gateway-assigned id. */
  serverRequest(message: RequestMessage): void;
  /** The response, with the client's own id restored. */
  final(message: ResponseMessage): void;
  fail(err: Error): void;
}

export interface PendingCall {
  readonly upstreamId: number;
  readonly owner: string;
  readonly clientId: JsonRpcId;
  /** Re-pointed by the MRTR bridge when a client retries a suspended call. */
  sink: CallSink;
  cancel(reason?: string): void;
}

interface OwnRequest {
  resolve(result: JsonObject): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The id bookkeeping of a shared upstream session. Upstream ids are the gateway's own counter;
 * a progress token is replaced by the call's upstream id; server→client requests get fresh ids
 * that only the owning client may answer.
 */
export class IdRouter {
  readonly #server: string;
  readonly #send: (m: Message) => Promise<void>;
  readonly #broadcast: (m: NotificationMessage) => void;
  #next = 1;
  #serverSeq = 0;
  readonly #calls = new Map<number, PendingCall & { timer: NodeJS.Timeout; progressToken: unknown }>();
  readonly #own = new Map<number, OwnRequest>();
  /** Gateway key → a server→client request: of a call routed here, or adopted from a relayed answer. */
  readonly #serverRequests = new Map<string, { upstreamId: JsonRpcId; owner: string; call?: PendingCall }>();

  /**
   * `firstId`: where the gateway's own ids start. A session that also carries relayed requests
   * (which keep their client's ids) starts them far above any id a client counts to.
   */
  constructor(server: string, send: (m: Message) => Promise<void>, broadcast: (m: NotificationMessage) => void, firstId = 1) {
    this.#server = server;
    this.#send = send;
    this.#broadcast = broadcast;
    this.#next = firstId;
  }

  /** A request the gateway itself makes (initialize). */
  request(method: string, params: JsonObject, timeoutMs: number): Promise<JsonObject> {
    const id = this.#next++;
    return new Promise<JsonObject>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#own.delete(id);
        reject(new PortcullisError('UPSTREAM_TIMEOUT', `${method} got no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#own.set(id, { resolve, reject, timer });
      this.#send({ kind: 'request', id, method, params }).catch((err: Error) => {
        clearTimeout(timer);
        this.#own.delete(id);
        reject(err);
      });
    });
  }

  start(owner: string, request: RequestMessage, sink: CallSink, timeoutMs: number): PendingCall {
    const upstreamId = this.#next++;
    const meta = request.params?._meta as JsonObject | undefined;
    const progressToken = meta?.progressToken;
    if (progressToken !== undefined) meta!.progressToken = upstreamId;
    const call = {
      upstreamId,
      owner,
      clientId: request.id,
      sink,
      progressToken,
      timer: setTimeout(() => {
        this.#cancel(upstreamId, 'timed out at the gateway');
        call.sink.fail(new PortcullisError('UPSTREAM_TIMEOUT', `no answer in ${timeoutMs} ms`));
      }, timeoutMs),
      cancel: (reason?: string) => this.#cancel(upstreamId, reason),
    };
    this.#calls.set(upstreamId, call);
    this.#send({ kind: 'request', id: upstreamId, method: request.method, params: request.params }).catch((err: Error) => {
      if (this.#forget(upstreamId)) sink.fail(err);
    });
    return call;
  }

  /** False when no call of `owner` has that id here. */
  cancelByClientId(owner: string, clientId: JsonRpcId, reason: unknown): boolean {
    for (const call of this.#calls.values()) {
      if (call.owner === owner && call.clientId === clientId) {
        this.#cancel(call.upstreamId, typeof reason === 'string' ? reason : undefined);
        call.sink.fail(new PortcullisError('UPSTREAM_CLOSED', 'cancelled by the client'));
        return true;
      }
    }
    return false;
  }

  answerServerRequest(owner: string, message: ResponseMessage): boolean {
    const key = typeof message.id === 'string' ? message.id : '';
    const entry = this.#serverRequests.get(key);
    if (!entry || entry.owner !== owner) return false;
    this.#serverRequests.delete(key);
    const answer: ResponseMessage = { kind: 'response', id: entry.upstreamId };
    if (message.error) answer.error = message.error;
    else answer.result = message.result;
    void this.#send(answer).catch(() => undefined);
    return true;
  }

  fromUpstream(message: Message, relatedTo?: JsonRpcId): void {
    if (message.kind === 'response') return this.#onResponse(message);
    if (message.kind === 'request') return this.#onServerRequest(message, relatedTo);
    this.#onNotification(message);
  }

  failAll(err: Error): void {
    for (const own of this.#own.values()) {
      clearTimeout(own.timer);
      own.reject(err);
    }
    this.#own.clear();
    const calls = [...this.#calls.values()];
    this.#calls.clear();
    this.#serverRequests.clear();
    for (const call of calls) {
      clearTimeout(call.timer);
      call.sink.fail(err);
    }
  }

  #onResponse(message: ResponseMessage): void {
    const id = message.id as number;
    const own = this.#own.get(id);
    if (own) {
      this.#own.delete(id);
      clearTimeout(own.timer);
      if (message.error) own.reject(new PortcullisError('UPSTREAM_PROTOCOL', message.error.message));
      else own.resolve(message.result ?? {});
      return;
    }
    const call = this.#calls.get(id);
    if (!call) return; // answered after a cancel or a timeout: nobody is waiting
    this.#forget(id);
    message.id = call.clientId;
    call.sink.final(message);
  }

  #onNotification(message: NotificationMessage): void {
    const params = message.params;
    if (message.method === 'notifications/progress') {
      const call = this.#calls.get(params?.progressToken as number);
      if (!call) return;
      params!.progressToken = call.progressToken;
      call.sink.notify(message);
      return;
    }
    if (message.method === 'notifications/cancelled') {
      for (const [key, entry] of this.#serverRequests) {
        if (entry.call && entry.upstreamId === params?.requestId) {
          this.#serverRequests.delete(key);
          params!.requestId = key;
          entry.call.sink.notify(message);
        }
      }
      return;
    }
    if (message.method === 'notifications/message') {
      // A log line belongs to whichever call caused it; with several clients in flight that
      // cannot be known, and guessing could show one client another's data.
      const only = this.#soleOwnerCall();
      if (only) only.sink.notify(message);
      return;
    }
    this.#broadcast(message);
  }

  #onServerRequest(message: RequestMessage, relatedTo: JsonRpcId | undefined): void {
    const reply = (result?: JsonObject, error?: ResponseMessage['error']) =>
      void this.#send({ kind: 'response', id: message.id, ...(error ? { error } : { result }) }).catch(() => undefined);
    if (message.method === 'ping') return reply({});
    const call = (typeof relatedTo === 'number' ? this.#calls.get(relatedTo) : undefined) ?? this.#soleOwnerCall();
    if (!call) {
      if (message.method === 'roots/list') return reply({ roots: [] });
      return reply(undefined, {
        code: -32603,
        message: `Portcullis cannot tell which client ${message.method} is for (no single client has a call in flight on ${this.#server})`,
      });
    }
    call.sink.serverRequest(this.#register(message, call.owner, call));
  }

  /**
   * A server→client request on an answer the caller relays itself: its id becomes a gateway key
   * that only `owner` can answer (two upstreams of one client may both number theirs from 0).
   */
  adopt(owner: string, message: RequestMessage): RequestMessage {
    return this.#register(message, owner, undefined);
  }

  /** The upstream's cancellation of an adopted request, in the client's terms (undefined: not adopted). */
  adoptedCancel(message: NotificationMessage): NotificationMessage | undefined {
    const upstreamId = message.params?.requestId;
    for (const [key, entry] of this.#serverRequests) {
      if (entry.call === undefined && entry.upstreamId === upstreamId) {
        this.#serverRequests.delete(key);
        return { ...message, params: { ...message.params, requestId: key } };
      }
    }
    return undefined;
  }

  /** Forgets adopted requests once the answer that carried them has ended. */
  drop(keys: readonly string[]): void {
    for (const key of keys) this.#serverRequests.delete(key);
  }

  #register(message: RequestMessage, owner: string, call: PendingCall | undefined): RequestMessage {
    const key = `pc-${++this.#serverSeq}`;
    this.#serverRequests.set(key, { upstreamId: message.id, owner, call });
    return { kind: 'request', id: key, method: message.method, params: message.params };
  }

  /** The oldest call in flight, if every call in flight belongs to one client. */
  #soleOwnerCall(): PendingCall | undefined {
    let first: PendingCall | undefined;
    for (const call of this.#calls.values()) {
      if (!first) first = call;
      else if (call.owner !== first.owner) return undefined;
    }
    return first;
  }

  #cancel(upstreamId: number, reason?: string): void {
    if (!this.#forget(upstreamId)) return;
    const params: JsonObject = { requestId: upstreamId };
    if (reason) params.reason = reason;
    void this.#send({ kind: 'notification', method: 'notifications/cancelled', params }).catch(() => undefined);
  }

  #forget(upstreamId: number): boolean {
    const call = this.#calls.get(upstreamId);
    if (!call) return false;
    clearTimeout(call.timer);
    this.#calls.delete(upstreamId);
    for (const [key, entry] of this.#serverRequests) if (entry.call === call) this.#serverRequests.delete(key);
    return true;
  }
}
