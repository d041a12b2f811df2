import { createHash, randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { PortcullisError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import type { JsonObject } from './jsonrpc/message.js';

/** A 2025-era client session: minted by the gateway, bound to the identity that opened it. */
export interface ClientSession {
  readonly id: string;
  readonly idHash: string;
  readonly server: string;
  readonly principal: string;
  readonly protocolVersion: string;
  readonly initParams: JsonObject;
  /** The upstream's own session id (HTTP upstreams), which the client never sees. */
  upstreamSessionId: string | null;
  lastSeenAt: number;
  /** When this process last saw the session's row in the store (shared stores recheck it). */
  checkedAt: number;
  /** Open GET streams for messages that belong to no request. */
  readonly streams: Set<ServerResponse>;
  /** Resources the route attached (an isolated child); released when the session ends. */
  onEnd: (() => Promise<void>) | undefined;
}

export interface SessionRegistryOptions {
  store: Store;
  clock: () => number;
  idleTimeoutMs: number;
  maxSessions: number;
  logger: Logger;
  /**
   * With a store shared by several instances (Postgres), how old this process's view of a session
   * may get before a request rechecks its row: a session ended on another instance is refused
   * here within this bound. Default 1000 ms; unused with a single-process store.
   */
  recheckMs?: number;
}

/**
 * Sessions live in memory for the hot path and in the store so they survive a restart (and, on
 * Postgres, can be served by another instance). `lastSeenAt` is written behind, not per request.
 */
export class SessionRegistry {
  readonly #opts: SessionRegistryOptions;
  readonly #live = new Map<string, ClientSession>();
  readonly #dirty = new Set<ClientSession>();
  readonly #timer: NodeJS.Timeout;
  /** Shared store: other instances may end or keep alive the sessions this one holds. */
  readonly #recheckMs: number | undefined;

  constructor(opts: SessionRegistryOptions) {
    this.#opts = opts;
    this.#recheckMs = opts.store.shared ? (opts.recheckMs ?? 1_000) : undefined;
    const every = Math.max(1_000, Math.min(60_000, Math.floor(opts.idleTimeoutMs / 4)));
    this.#timer = setInterval(() => void this.sweep().catch(() => undefined), every);
    this.#timer.unref();
  }

  get size(): number {
    return this.#live.size;
  }

  hasCapacity(): boolean {
    return this.#live.size < this.#opts.maxSessions;
  }

  async create(fields: Pick<ClientSession, 'server' | 'principal' | 'protocolVersion' | 'initParams' | 'upstreamSessionId'>): Promise<ClientSession> {
    // 256 random bits: unguessable, and only its hash is stored.
    const id = randomBytes(32).toString('base64url');
    const now = this.#opts.clock();
    const session: ClientSession = { ...fields, id, idHash: hashId(id), lastSeenAt: now, checkedAt: now, streams: new Set(), onEnd: undefined };
    await this.#opts.store.sessions.insert({
      idHash: session.idHash,
      server: session.server,
      principal: session.principal,
      protocolVersion: session.protocolVersion,
      initParams: JSON.stringify(session.initParams),
      upstreamSessionId: session.upstreamSessionId,
      createdAt: now,
      lastSeenAt: now,
    });
    this.#live.set(id, session);
    return session;
  }

  /**
   * hot path: one Map lookup. The store is read only for a session this process has not seen
   * (after a restart), and on a shared store once per `recheckMs` per session (another instance
   * may have ended it). A session of another server or identity is reported as absent.
   */
  find(id: string, server: string, principal: string): ClientSession | undefined | Promise<ClientSession | undefined> {
    const session = this.#live.get(id);
    if (!session) return id.length > 128 ? undefined : this.#restore(id, server, principal);
    if (this.#recheckMs !== undefined && this.#opts.clock() - session.checkedAt > this.#recheckMs) return this.#recheck(session, server, principal);
    return this.#bound(session, server, principal);
  }

  async #recheck(session: ClientSession, server: string, principal: string): Promise<ClientSession | undefined> {
    let row;
    try {
      row = await this.#opts.store.sessions.get(session.idHash);
    } catch (err) {
      // The store is down: the copy was good a moment ago, and every gated call fails closed on
      // its own (audit, budgets). Serve it and recheck on the next request.
      this.#opts.logger.debug({ err: (err as Error).message }, 'session recheck failed; serving the local copy');
      return this.#bound(session, server, principal);
    }
    if (!row) {
      await this.#forget(session);
      return undefined;
    }
    session.checkedAt = this.#opts.clock();
    return this.#bound(session, server, principal);
  }

  /** Drops this process's copy and what it holds for it; the store row is left as it is. */
  async #forget(session: ClientSession): Promise<void> {
    if (this.#live.get(session.id) !== session) return;
    this.#live.delete(session.id);
    this.#dirty.delete(session);
    for (const stream of session.streams) stream.end();
    session.streams.clear();
    await session.onEnd?.().catch((err: Error) => this.#opts.logger.warn({ err: err.message }, 'session cleanup failed'));
  }

  #bound(session: ClientSession, server: string, principal: string): ClientSession | undefined {
    if (session.server !== server || session.principal !== principal) return undefined;
    session.lastSeenAt = this.#opts.clock();
    this.#dirty.add(session);
    return session;
  }

  /** A session this process has not seen (after a restart, or opened by another instance). */
  async #restore(id: string, server: string, principal: string): Promise<ClientSession | undefined> {
    let row;
    try {
      row = await this.#opts.store.sessions.get(hashId(id));
    } catch (err) {
      throw new PortcullisError('STORE_FAILURE', `cannot look up the session: ${(err as Error).message}`, { cause: err });
    }
    if (!row) return undefined;
    let session = this.#live.get(id);
    if (!session) {
      session = {
        id,
        idHash: row.idHash,
        server: row.server,
        principal: row.principal,
        protocolVersion: row.protocolVersion,
        initParams: JSON.parse(row.initParams) as JsonObject,
        upstreamSessionId: row.upstreamSessionId,
        lastSeenAt: row.lastSeenAt,
        checkedAt: this.#opts.clock(),
        streams: new Set(),
        onEnd: undefined,
      };
      this.#live.set(id, session);
    }
    return this.#bound(session, server, principal);
  }

  async setUpstreamSession(session: ClientSession, upstreamSessionId: string | null): Promise<void> {
    session.upstreamSessionId = upstreamSessionId;
    await this.#opts.store.sessions.setUpstreamSession(session.idHash, upstreamSessionId);
  }

  async end(session: ClientSession): Promise<void> {
    this.#live.delete(session.id);
    this.#dirty.delete(session);
    for (const stream of session.streams) stream.end();
    session.streams.clear();
    await this.#opts.store.sessions.delete(session.idHash);
    await session.onEnd?.().catch((err: Error) => this.#opts.logger.warn({ err: err.message }, 'session cleanup failed'));
  }

  /** Flushes `lastSeenAt` and ends sessions idle for longer than the configured timeout. */
  async sweep(): Promise<void> {
    const now = this.#opts.clock();
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    for (const s of dirty) await this.#opts.store.sessions.touch(s.idHash, s.lastSeenAt);
    const cutoff = now - this.#opts.idleTimeoutMs;
    for (const s of this.#live.values()) {
      if (s.lastSeenAt >= cutoff || s.streams.size > 0) continue;
      // On a shared store the session may be busy on another instance: only its row knows.
      const row = this.#recheckMs === undefined ? undefined : await this.#opts.store.sessions.get(s.idHash);
      if (row && row.lastSeenAt >= cutoff) await this.#forget(s);
      else await this.end(s);
    }
    await this.#opts.store.sessions.deleteIdle(cutoff);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    for (const s of this.#dirty) await this.#opts.store.sessions.touch(s.idHash, s.lastSeenAt).catch(() => undefined);
    this.#dirty.clear();
    for (const s of this.#live.values()) {
      for (const stream of s.streams) stream.end();
      await s.onEnd?.().catch(() => undefined);
    }
    this.#live.clear();
  }
}

export function hashId(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}
