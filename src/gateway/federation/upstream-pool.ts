import type { ServerConfig } from '../../config/schema.js';
import { PortcullisError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { JsonObject, NotificationMessage, RequestMessage, ResponseMessage } from '../jsonrpc/message.js';
import { LEGACY_VERSIONS } from '../protocol.js';
import { GATEWAY_CLIENT_CAPABILITIES, GATEWAY_CLIENT_INFO } from '../routes/route-helpers.js';
import { httpLegacyLinkFactory } from '../upstream/http-legacy-link.js';
import { createHttpUpstream, type HttpUpstream } from '../upstream/http-upstream.js';
import { LegacyChannel } from '../upstream/legacy-channel.js';
import type { MessageLimits } from '../upstream/read-body.js';
import { stdioLinkFactory } from '../upstream/stdio-link.js';

/** How one upstream is doing, as `/healthz` reports it for the aggregated endpoint. */
export interface PoolHealth {
  name: string;
  state: string;
  /** The last failure, until a request succeeds again. */
  error?: string;
}

/**
 * The aggregated endpoint's upstream sessions: one 2025-era session per server, opened on first
 * use and shared by every `/mcp` client, with JSON-RPC ids rewritten per client (the
 * `LegacyChannel` id router), so clients never see or answer each other's traffic. Sessions are
 * the gateway's own (separate from the `/mcp/{server}` routes'), so a server's per-route state
 * and the aggregate's never mix. A server that fails is remembered as down until it answers again;
 * the others are not affected.
 */
export class UpstreamPool {
  readonly #channels = new Map<string, LegacyChannel>();
  readonly #errors = new Map<string, string>();
  readonly #http: HttpUpstream[] = [];
  readonly #listeners = new Set<(server: string, m: NotificationMessage) => void>();

  constructor(servers: Readonly<Record<string, ServerConfig>>, limits: MessageLimits, logger: Logger) {
    const initParams: JsonObject = { protocolVersion: LEGACY_VERSIONS[0], capabilities: GATEWAY_CLIENT_CAPABILITIES, clientInfo: GATEWAY_CLIENT_INFO };
    for (const [name, config] of Object.entries(servers)) {
      let connect;
      if (config.transport === 'stdio') connect = stdioLinkFactory(name, config, limits, logger);
      else {
        const upstream = createHttpUpstream(name, config);
        this.#http.push(upstream);
        connect = httpLegacyLinkFactory(upstream, limits, logger);
      }
      const restart = config.transport === 'stdio' ? config.restart : undefined;
      const channel = new LegacyChannel({ server: name, connect, initParams, timeoutMs: config.timeoutMs, restart, logger });
      channel.onBroadcast((m) => {
        for (const listener of this.#listeners) listener(name, m);
      });
      this.#channels.set(name, channel);
    }
  }

  get servers(): string[] {
    return [...this.#channels.keys()];
  }

  channel(server: string): LegacyChannel | undefined {
    return this.#channels.get(server);
  }

  /** One request to one upstream, answered whole (list pages); rejects with the failure. */
  request(server: string, owner: string, request: RequestMessage, timeoutMs = 10_000): Promise<ResponseMessage> {
    const channel = this.#channels.get(server);
    if (!channel) return Promise.reject(new PortcullisError('UPSTREAM_UNAVAILABLE', `no server ${server}`));
    return new Promise<ResponseMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new PortcullisError('UPSTREAM_TIMEOUT', `no answer within ${timeoutMs} ms`)), timeoutMs);
      void channel.call(owner, request, {
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

  /** Notifications that belong to no call (list changes) from any upstream. */
  onBroadcast(listener: (server: string, m: NotificationMessage) => void): void {
    this.#listeners.add(listener);
  }

  health(): PoolHealth[] {
    return [...this.#channels].map(([name, c]) => {
      const error = this.#errors.get(name);
      return error === undefined ? { name, state: c.state } : { name, state: 'down', error };
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.#channels.values()].map((c) => c.close()));
    await Promise.all(this.#http.map((u) => u.close()));
  }
}
