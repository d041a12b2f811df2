import type { ServerConfig } from '../../config/schema.js';
import { PortcullisError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { JsonObject, NotificationMessage, RequestMessage, ResponseMessage } from '../jsonrpc/message.js';
import { LEGACY_VERSIONS } from '../protocol.js';
import { GATEWAY_CLIENT_CAPABILITIES, GATEWAY_CLIENT_INFO } from '../routes/route-helpers.js';
import type { ClientSession } from '../sessions.js';
import { EraProbe } from '../upstream/era-probe.js';
import { httpLegacyLinkFactory } from '../upstream/http-legacy-link.js';
import { httpModernLinkFactory } from '../upstream/http-modern-link.js';
import { ModernExchange } from '../upstream/modern-exchange.js';
import { createHttpUpstream, type HttpUpstream } from '../upstream/http-upstream.js';
import { LegacyChannel } from '../upstream/legacy-channel.js';
import type { LinkFactory } from '../upstream/legacy-link.js';
import type { MessageLimits } from '../upstream/read-body.js';
import { stdioLinkFactory } from '../upstream/stdio-link.js';

/** How one upstream is doing, as `/healthz` reports it for the aggregated endpoint. */
export interface PoolHealth {
  name: string;
  state: string;
  /** Upstream sessions held for `/mcp` client sessions right now. */
  sessions: number;
  /** The last failure, until a request succeeds again. */
  error?: string;
}

/** Whom an upstream request is for: a 2025-era client session, or a stateless caller (its principal). */
export interface Caller {
  readonly owner: string;
  readonly session?: ClientSession;
}

/** How to open one server's upstream sessions, and whether each client session gets its own. */
interface Upstream {
  readonly connect: LinkFactory;
  /**
   * A session per client session: its own HTTP session (`connectOwn`), or an isolated child.
   * Not for a 2026-07-28 HTTP server, which has no sessions (known once its era is).
   */
  perSession: boolean;
  readonly connectOwn: LinkFactory;
  readonly config: ServerConfig;
}

/**
 * The aggregated endpoint's upstream sessions. A 2025-era client session of `/mcp` gets one
 * upstream session per server it uses, opened on its first request that needs that server (with
 * the client's own `initialize` params) and closed with the client's session (DELETE, idle expiry,
 * shutdown): an HTTP upstream sees one session per client, as behind `/mcp/{server}`; a
 * 2026-07-28 HTTP upstream has no sessions, so it is spoken to statelessly on everyone's behalf
 * (`http-modern-link.ts`). Stdio
 * servers keep one shared child, ids rewritten per client, unless configured `mode: 'isolated'`
 * (a child per client session). Stateless 2026-07-28 callers have no session to tie one to: they
 * share one gateway-owned session per server, ids rewritten per caller, as the `/mcp/{server}`
 * routes do for them. A server that fails is remembered as down until it answers again; the others
 * are not affected.
 */
export class UpstreamPool {
  readonly #upstreams = new Map<string, Upstream>();
  readonly #shared = new Map<string, LegacyChannel>();
  /** Client session id → server → that session's own upstream session. */
  readonly #own = new Map<string, Map<string, LegacyChannel>>();
  readonly #ended = new WeakSet<ClientSession>();
  readonly #errors = new Map<string, string>();
  readonly #http: HttpUpstream[] = [];
  readonly #listeners = new Set<(server: string, m: NotificationMessage, session?: ClientSession) => void>();
  readonly #logger: Logger;
  /** The caps every relayed answer is read under. */
  readonly limits: MessageLimits;

  constructor(servers: Readonly<Record<string, ServerConfig>>, limits: MessageLimits, logger: Logger) {
    this.#logger = logger;
    this.limits = limits;
    for (const [name, config] of Object.entries(servers)) {
      let upstream: Upstream;
      if (config.transport === 'stdio') {
        const connect = stdioLinkFactory(name, config, limits, logger);
        upstream = { connect, connectOwn: connect, perSession: config.mode === 'isolated', config };
      } else {
        const http = createHttpUpstream(name, config);
        this.#http.push(http);
        const exchange = new ModernExchange(http, limits);
        const probe = new EraProbe(exchange, config.protocol, logger, (era) => (upstream.perSession = era === 'legacy'));
        const modern = httpModernLinkFactory(exchange);
        const byEra = (legacy: LinkFactory): LinkFactory => async (events) => ((await probe.era()) === 'modern' ? modern(events) : legacy(events));
        upstream = {
          connect: byEra(httpLegacyLinkFactory(http, limits, logger)),
          connectOwn: byEra(httpLegacyLinkFactory(http, limits, logger, 'on-demand')),
          perSession: probe.verdict !== 'modern',
          config,
        };
      }
      this.#upstreams.set(name, upstream);
      const initParams: JsonObject = { protocolVersion: LEGACY_VERSIONS[0], capabilities: GATEWAY_CLIENT_CAPABILITIES, clientInfo: GATEWAY_CLIENT_INFO };
      this.#shared.set(name, this.#open(name, upstream.connect, initParams, undefined));
    }
  }

  get servers(): string[] {
    return [...this.#upstreams.keys()];
  }

  /**
   * The upstream session that serves `server` for this caller, opened for a client session on
   * first use. Throws for an unknown server or a client session that has ended.
   * hot path: Map lookups only once the session's upstream session exists (it connects on its first call).
   */
  channel(server: string, session?: ClientSession): LegacyChannel {
    const upstream = this.#upstreams.get(server);
    if (!upstream) throw new PortcullisError('UPSTREAM_UNAVAILABLE', `no server ${server}`);
    if (!session || !upstream.perSession) return this.#shared.get(server)!;
    if (this.#ended.has(session)) throw new PortcullisError('UPSTREAM_CLOSED', 'the client session has ended');
    let own = this.#own.get(session.id);
    if (!own) {
      own = new Map();
      this.#own.set(session.id, own);
      session.onEnd = () => this.release(session);
    }
    let channel = own.get(server);
    if (!channel) {
      channel = this.#open(server, upstream.connectOwn, session.initParams, session);
      // A client already listening on `/mcp` hears this upstream too.
      if (session.streams.size > 0) channel.listen(true);
      own.set(server, channel);
    }
    return channel;
  }

  /** Every upstream session that may hold this client session's calls (its own, and the shared ones). */
  channelsOf(session: ClientSession): LegacyChannel[] {
    const own = this.#own.get(session.id);
    return this.servers.map((server) => own?.get(server) ?? this.#shared.get(server)!);
  }

  /** The client session opened or closed its last standalone stream: so do its upstream sessions. */
  listen(session: ClientSession, on: boolean): void {
    for (const channel of this.#own.get(session.id)?.values() ?? []) channel.listen(on);
  }

  /** Closes a client session's upstream sessions (an HTTP upstream gets its DELETE). */
  async release(session: ClientSession): Promise<void> {
    this.#ended.add(session);
    const own = this.#own.get(session.id);
    this.#own.delete(session.id);
    if (own) await Promise.all([...own.values()].map((c) => c.close()));
  }

  /** One request to one upstream, answered whole (list pages); rejects with the failure. */
  request(server: string, caller: Caller, request: RequestMessage, timeoutMs = 10_000): Promise<ResponseMessage> {
    let channel: LegacyChannel;
    try {
      channel = this.channel(server, caller.session);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<ResponseMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new PortcullisError('UPSTREAM_TIMEOUT', `no answer within ${timeoutMs} ms`)), timeoutMs);
      void channel.call(caller.owner, request, {
        notify: () => undefined,
        serverRequest: () => undefined,
        final: (m) => (clearTimeout(timer), resolve(m)),
        fail: (err) => (clearTimeout(timer), reject(err)),
      });
    }).then(
      (m) => (this.#errors.delete(server), m),
      (err: Error) => {
        this.#errors.set(server, err.message);
        throw err;
      },
    );
  }

  /** Notes the outcome of a call forwarded by the caller (down until a request succeeds). */
  noteFailure(server: string, err: Error | undefined): void {
    if (err) this.#errors.set(server, err.message);
    else this.#errors.delete(server);
  }

  /**
   * Notifications that belong to no call (list changes) from any upstream; `session` is the
   * client session whose own upstream session sent it (absent: a shared one, so everyone's).
   */
  onBroadcast(listener: (server: string, m: NotificationMessage, session?: ClientSession) => void): void {
    this.#listeners.add(listener);
  }

  health(): PoolHealth[] {
    return this.servers.map((name) => {
      const own = [...this.#own.values()].map((m) => m.get(name)).filter((c): c is LegacyChannel => c !== undefined);
      const shared = this.#shared.get(name)!;
      const state = shared.state === 'ready' || own.some((c) => c.state === 'ready') ? 'ready' : shared.state;
      const error = this.#errors.get(name);
      return error === undefined ? { name, state, sessions: own.length } : { name, state: 'down', sessions: own.length, error };
    });
  }

  async close(): Promise<void> {
    const own = [...this.#own.values()].flatMap((m) => [...m.values()]);
    this.#own.clear();
    await Promise.all([...this.#shared.values(), ...own].map((c) => c.close()));
    await Promise.all(this.#http.map((u) => u.close()));
  }

  #open(server: string, connect: LinkFactory, initParams: JsonObject, session: ClientSession | undefined): LegacyChannel {
    const { config } = this.#upstreams.get(server)!;
    const restart = config.transport === 'stdio' ? config.restart : undefined;
    // A client session's own HTTP session carries its calls with their ids as they are.
    const relayed = session !== undefined && config.transport === 'http';
    const channel = new LegacyChannel({ server, connect, initParams, timeoutMs: config.timeoutMs, restart, relayed, logger: this.#logger });
    channel.onBroadcast((m) => {
      for (const listener of this.#listeners) listener(server, m, session);
    });
    return channel;
  }
}
