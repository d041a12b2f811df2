import type { Logger } from '../../logger.js';
import { PortcullisError } from '../../errors.js';
import { serializeMessage, type Message } from '../jsonrpc/message.js';
import type { HttpUpstream, UpstreamResponse } from './http-upstream.js';
import type { LegacyLink, LinkEvents, LinkFactory } from './legacy-link.js';
import { forEachUpstreamMessage, type MessageLimits } from './read-body.js';

/**
 * When the link holds the upstream's standalone GET stream open: `always` (a session the gateway
 * shares), or `on-demand` (a session held for one client: only while that client listens, as
 * `/mcp/{server}` does, so idle sessions do not each pin one of the upstream pool's connections).
 */
export type ListenMode = 'always' | 'on-demand';

/**
 * A 2025-era Streamable HTTP session that the gateway opens and holds itself: for clients without
 * sessions (2026-07-28), and for each client session of the aggregated endpoint.
 */
export function httpLegacyLinkFactory(upstream: HttpUpstream, limits: MessageLimits, logger: Logger, mode: ListenMode = 'always'): LinkFactory {
  return async (events) => new HttpLegacyLink(upstream, limits, logger, events, mode === 'always');
}

class HttpLegacyLink implements LegacyLink {
  readonly #upstream: HttpUpstream;
  readonly #limits: MessageLimits;
  readonly #events: LinkEvents;
  readonly #logger: Logger;
  readonly #abort = new AbortController();
  #sessionId: string | undefined;
  #protocolVersion: string | undefined;
  #initId: unknown;
  #closed = false;
  #wantStream: boolean;
  #stream: AbortController | undefined;
  /** hot path: the request headers, rebuilt only when the session id or version changes. */
  #headerCache: Record<string, string> | undefined;

  constructor(upstream: HttpUpstream, limits: MessageLimits, logger: Logger, events: LinkEvents, wantStream: boolean) {
    this.#wantStream = wantStream;
    this.#upstream = upstream;
    this.#limits = limits;
    this.#logger = logger;
    this.#events = {
      onMessage: (m, relatedTo) => {
        if (m.kind === 'response' && m.id === this.#initId && typeof m.result?.protocolVersion === 'string') {
          this.#protocolVersion = m.result.protocolVersion;
          this.#headerCache = undefined;
        }
        events.onMessage(m, relatedTo);
      },
      onClose: (reason) => {
        if (!this.#closed) {
          this.#closed = true;
          this.#abort.abort();
          events.onClose(reason);
        }
      },
    };
  }

  async send(message: Message): Promise<void> {
    const res = await this.post(message);
    // What comes on a request's own stream belongs to that request (a server→client request too).
    const relatedTo = message.kind === 'request' ? message.id : undefined;
    const onMessage = relatedTo === undefined ? this.#events.onMessage : (m: Message) => this.#events.onMessage(m, relatedTo);
    // Consumed in the background: a long tool call streams for as long as it runs.
    forEachUpstreamMessage(res, this.#limits, onMessage).catch((err: Error) => {
      if (!this.#closed) this.#logger.warn({ server: this.#upstream.name, err: err.message }, 'upstream stream failed');
    });
  }

  async post(message: Message): Promise<UpstreamResponse> {
    if (this.#closed) throw new PortcullisError('UPSTREAM_UNAVAILABLE', 'session closed');
    if (message.kind === 'request' && message.method === 'initialize') this.#initId = message.id;
    const res = await this.#upstream.post(serializeMessage(message), this.#headers(), this.#abort.signal);
    if (res.statusCode === 404 && this.#sessionId) {
      await res.body.dump();
      this.#events.onClose(new PortcullisError('UPSTREAM_CLOSED', 'the upstream ended the session'));
      throw new PortcullisError('UPSTREAM_CLOSED', 'the upstream ended the session');
    }
    if (res.statusCode >= 400) {
      const text = (await res.body.bytes(4096).catch(() => Buffer.alloc(0))).toString('utf8');
      throw new PortcullisError('UPSTREAM_PROTOCOL', `HTTP ${res.statusCode} ${text.slice(0, 200)}`);
    }
    const sid = res.headers['mcp-session-id'];
    if (typeof sid === 'string' && !this.#sessionId) {
      this.#sessionId = sid;
      this.#headerCache = undefined;
      if (this.#wantStream) this.listen(true);
    }
    return res;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    if (this.#sessionId) {
      await this.#upstream
        .delete(this.#headers())
        .then((r) => r.body.dump())
        .catch(() => undefined);
    }
  }

  listen(on: boolean): void {
    this.#wantStream = on;
    if (!on) {
      this.#stream?.abort();
      this.#stream = undefined;
    } else if (this.#sessionId && !this.#stream && !this.#closed) {
      this.#stream = new AbortController();
      void this.#listen(AbortSignal.any([this.#abort.signal, this.#stream.signal]));
    }
  }

  /** The standalone GET stream carries messages tied to no request (list changes). */
  async #listen(signal: AbortSignal): Promise<void> {
    try {
      const res = await this.#upstream.get({ ...this.#headers(), accept: 'text/event-stream' }, signal);
      if (res.statusCode !== 200) {
        await res.body.dump();
        return;
      }
      await forEachUpstreamMessage(res, this.#limits, this.#events.onMessage);
    } catch {
      // The stream is optional in the 2025 transport; calls keep working without it.
    }
  }

  #headers(): Record<string, string> {
    if (this.#headerCache) return this.#headerCache;
    const h: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    if (this.#sessionId) h['mcp-session-id'] = this.#sessionId;
    if (this.#protocolVersion) h['mcp-protocol-version'] = this.#protocolVersion;
    this.#headerCache = h;
    return h;
  }
}
