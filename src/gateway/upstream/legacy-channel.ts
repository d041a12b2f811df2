import type { Logger } from '../../logger.js';
import { PortcullisError } from '../../errors.js';
import type { JsonObject, JsonRpcId, Message, NotificationMessage, RequestMessage, ResponseMessage } from '../jsonrpc/message.js';
import type { UpstreamResponse } from './http-upstream.js';
import type { LegacyLink, LinkFactory } from './legacy-link.js';
import { IdRouter, type CallSink, type PendingCall } from './id-router.js';

export type { CallSink } from './id-router.js';

export interface ChannelOptions {
  server: string;
  connect: LinkFactory;
  /** The `initialize` params the gateway sends as this upstream's one client. */
  initParams: JsonObject;
  timeoutMs: number;
  /** Restart with backoff after a crash (stdio); without it the next call reconnects (HTTP). */
  restart?: { initialDelayMs: number; maxDelayMs: number };
  /**
   * The session is held for one client, whose requests may also be relayed with their own ids
   * (`post`): the gateway's ids start at 2^52, clear of any the client counts to.
   */
  relayed?: boolean;
  logger: Logger;
}

const RELAYED_SESSION_FIRST_ID = 2 ** 52;

type State = 'idle' | 'connecting' | 'ready' | 'down' | 'closed';

/**
 * One 2025-era upstream session shared by many clients (a stdio child, or the session the gateway
 * holds for stateless clients). Every client request gets a fresh upstream id and its progress
 * token is rewritten, so no client can see or answer another's traffic (the id-collision leak of
 * the SDK's CVE-2026-25536 is exactly what this prevents).
 */
export class LegacyChannel {
  readonly server: string;
  readonly #opts: ChannelOptions;
  readonly #router: IdRouter;
  #state: State = 'idle';
  #link: LegacyLink | undefined;
  #connecting: Promise<void> | undefined;
  #initResult: JsonObject | undefined;
  #backoff: number;
  #restartTimer: NodeJS.Timeout | undefined;
  #stableTimer: NodeJS.Timeout | undefined;
  #listeners = new Set<(m: NotificationMessage) => void>();
  #listening = false;

  constructor(opts: ChannelOptions) {
    this.server = opts.server;
    this.#opts = opts;
    this.#backoff = opts.restart?.initialDelayMs ?? 0;
    this.#router = new IdRouter(opts.server, (m) => this.#sendRaw(m), (m) => this.#broadcast(m), opts.relayed ? RELAYED_SESSION_FIRST_ID : 1);
  }

  /** Whether this session is one client's alone, so its calls may go up by `post` with their own ids. */
  get relays(): boolean {
    // A link that cannot relay (a 2026-07-28 upstream has no session to hold) routes every call.
    return this.#opts.relayed === true && this.#link?.post !== undefined;
  }

  get state(): State {
    return this.#state;
  }

  get pid(): number | undefined {
    return this.#link?.pid;
  }

  /** The upstream's `initialize` result (capabilities, serverInfo, instructions). */
  async ready(): Promise<JsonObject> {
    if (this.#state === 'closed') throw new PortcullisError('UPSTREAM_CLOSED', 'the gateway is shutting down');
    if (this.#state !== 'ready') await (this.#connecting ?? this.#connect());
    return this.#initResult!;
  }

  /** Sends a client's request; everything that comes back for it goes to `sink`. */
  async call(owner: string, request: RequestMessage, sink: CallSink): Promise<PendingCall | undefined> {
    if (this.#state !== 'ready') {
      try {
        await this.ready();
      } catch (err) {
        sink.fail(err as Error);
        return undefined;
      }
    }
    return this.#router.start(owner, request, sink, this.#opts.timeoutMs);
  }

  /**
   * Sends a client's request on a session held for that client and hands back the raw answer for
   * the caller to relay: no id is rewritten (the session is the client's alone). An upstream that
   * forgot the session (it restarted) gets a new one and the request once more.
   * hot path: one POST once the session is open.
   */
  post(request: RequestMessage): Promise<UpstreamResponse> {
    const link = this.#link;
    const sent = this.#state === 'ready' && link?.post ? link.post(request) : this.#postAfterConnect(request);
    return sent.catch((err: unknown) => {
      if (!(err instanceof PortcullisError && err.code === 'UPSTREAM_CLOSED') || this.#state === 'closed') throw err;
      return this.#postAfterConnect(request);
    });
  }

  /**
   * A message on an answer the caller relays, in the client's terms: a server→client request gets
   * a key only `owner` can answer (kept in `adopted` until the answer ends), an upstream's
   * cancellation of one names that key.
   */
  relayed(owner: string, message: Message, adopted: string[]): Message {
    if (message.kind === 'request') {
      const keyed = this.#router.adopt(owner, message);
      adopted.push(keyed.id as string);
      return keyed;
    }
    if (message.kind === 'notification' && message.method === 'notifications/cancelled') return this.#router.adoptedCancel(message) ?? message;
    return message;
  }

  /** Forgets the server→client requests of a relayed answer that has ended. */
  release(adopted: readonly string[]): void {
    if (adopted.length > 0) this.#router.drop(adopted);
  }

  /** A client notification: `initialized` is the gateway's business, `cancelled` needs its id mapped. */
  notify(owner: string, message: NotificationMessage): void {
    if (message.method === 'notifications/initialized') return;
    if (message.method === 'notifications/cancelled') {
      const routed = this.#router.cancelByClientId(owner, message.params?.requestId as JsonRpcId, message.params?.reason);
      // A relayed request kept the client's id: the upstream takes the cancellation as it is
      // (one that does not know the id ignores it).
      if (!routed && this.relays && this.#state === 'ready') void this.#sendRaw(message).catch(() => undefined);
      return;
    }
    if (this.#state === 'ready') void this.#sendRaw(message).catch(() => undefined);
  }

  /** A client's answer to a server→client request; false when the id is not this owner's. */
  respond(owner: string, message: ResponseMessage): boolean {
    return this.#router.answerServerRequest(owner, message);
  }

  /** Notifications that belong to no single call (list changes, resource updates). */
  onBroadcast(listener: (m: NotificationMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Whether the upstream's standalone stream is wanted (links that open it on demand): kept
   * across reconnects, so a client that listens keeps hearing the upstream after it restarts.
   */
  listen(on: boolean): void {
    this.#listening = on;
    this.#link?.listen?.(on);
  }

  /** Starts the upstream now instead of on the first call (stdio children). */
  start(): void {
    void this.ready().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.#state = 'closed';
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#stableTimer);
    this.#router.failAll(new PortcullisError('UPSTREAM_CLOSED', 'the gateway is shutting down'));
    const link = this.#link;
    this.#link = undefined;
    await link?.close();
  }

  async #postAfterConnect(request: RequestMessage): Promise<UpstreamResponse> {
    await this.ready();
    const link = this.#link;
    if (!link?.post) throw new PortcullisError('UPSTREAM_UNAVAILABLE', `${this.server}: this upstream session cannot relay`);
    return link.post(request);
  }

  #connect(): Promise<void> {
    this.#state = 'connecting';
    this.#connecting = this.#open().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #open(): Promise<void> {
    let link: LegacyLink | undefined;
    try {
      link = await this.#opts.connect({
        onMessage: (m, relatedTo) => this.#router.fromUpstream(m, relatedTo),
        onClose: (reason) => {
          if (this.#link === link) this.#lost(reason);
        },
      });
      this.#link = link;
      if (this.#listening) link.listen?.(true);
      const init = await this.#router.request(
        'initialize',
        this.#opts.initParams,
        Math.min(this.#opts.timeoutMs, 30_000),
      );
      if (typeof init.protocolVersion !== 'string') {
        throw new PortcullisError('UPSTREAM_PROTOCOL', 'initialize result has no protocolVersion');
      }
      await link.send({ kind: 'notification', method: 'notifications/initialized', params: undefined });
      this.#initResult = init;
      if ((this.#state as State) === 'closed') return;
      this.#state = 'ready';
      this.#stableTimer = setTimeout(() => (this.#backoff = this.#opts.restart?.initialDelayMs ?? 0), 30_000);
      this.#stableTimer.unref();
      this.#opts.logger.info({ server: this.server, protocolVersion: init.protocolVersion }, 'upstream ready');
    } catch (err) {
      if (this.#link === link) this.#link = undefined;
      await link?.close().catch(() => undefined);
      this.#lost(err as Error);
      throw err instanceof PortcullisError
        ? err
        : new PortcullisError('UPSTREAM_UNAVAILABLE', (err as Error).message, { cause: err });
    }
  }

  #lost(reason: Error): void {
    if (this.#state === 'closed') return;
    clearTimeout(this.#stableTimer);
    this.#link = undefined;
    this.#router.failAll(new PortcullisError('UPSTREAM_CLOSED', reason.message, { cause: reason }));
    const restart = this.#opts.restart;
    if (!restart) {
      this.#state = 'idle';
      return;
    }
    this.#state = 'down';
    const delay = this.#backoff;
    this.#backoff = Math.min(Math.max(delay * 2, restart.initialDelayMs), restart.maxDelayMs);
    this.#opts.logger.warn({ server: this.server, err: reason.message, retryInMs: delay }, 'upstream lost; restarting');
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => {
      if (this.#state === 'down') this.#connect().catch(() => undefined);
    }, delay);
    this.#restartTimer.unref();
  }

  async #sendRaw(message: Message): Promise<void> {
    const link = this.#link;
    if (!link) throw new PortcullisError('UPSTREAM_UNAVAILABLE', 'not connected');
    await link.send(message);
  }

  #broadcast(message: NotificationMessage): void {
    for (const listener of this.#listeners) listener(message);
  }
}
