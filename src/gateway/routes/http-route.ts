import type { HttpServerConfig } from '../../config/schema.js';
import { PortcullisError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { Store } from '../../store/store.js';
import { discoverResultFor, resultMessage } from '../channel-serving.js';
import { ClientStream } from '../client-stream.js';
import { serializeMessage, type JsonObject, type Message, type RequestMessage, type ResponseMessage } from '../jsonrpc/message.js';
import type { MrtrBridge } from '../mrtr-bridge.js';
import { encodeHeaderValue, isLegacyVersion, LEGACY_VERSIONS, nameOf } from '../protocol.js';
import { EraProbe } from '../upstream/era-probe.js';
import { ModernExchange } from '../upstream/modern-exchange.js';
import { relayResponse } from '../relay.js';
import type { ClientSession, SessionRegistry } from '../sessions.js';
import { httpLegacyLinkFactory } from '../upstream/http-legacy-link.js';
import { createHttpUpstream } from '../upstream/http-upstream.js';
import { LegacyChannel } from '../upstream/legacy-channel.js';
import { forEachUpstreamMessage, type MessageLimits } from '../upstream/read-body.js';
import { sendWireError, RpcCode, wireError } from '../wire-error.js';
import { GATEWAY_CLIENT_CAPABILITIES, GATEWAY_CLIENT_INFO, sessionHeaders } from './route-helpers.js';
import { LegacyOnModern } from './legacy-on-modern.js';
import type { McpContext, ServerRoute } from './server-route.js';

export interface HttpRouteDeps {
  sessions: SessionRegistry;
  bridge: MrtrBridge;
  store: Store;
  limits: MessageLimits;
  logger: Logger;
}

const JSON_AND_SSE = 'application/json, text/event-stream';

/**
 * A Streamable HTTP server. A 2025-era client session maps one-to-one onto an upstream session
 * (the upstream's id stays behind the gateway). A 2026-07-28 client is forwarded as is to a
 * 2026-era upstream; for a 2025-era upstream the gateway holds a session on its behalf.
 */
export function createHttpRoute(name: string, config: HttpServerConfig, deps: HttpRouteDeps): ServerRoute {
  const upstream = createHttpUpstream(name, config);
  const { limits } = deps;
  const exchange = new ModernExchange(upstream, limits);
  const probe = new EraProbe(exchange, config.protocol, deps.logger, (found) => void deps.store.servers.setEra(name, found).catch(() => undefined));
  const upstreamHeaders = new WeakMap<ClientSession, Record<string, string>>();
  let held: LegacyChannel | undefined;
  const onModern = new LegacyOnModern(exchange);

  function heldChannel(): LegacyChannel {
    held ??= new LegacyChannel({
      server: name,
      connect: httpLegacyLinkFactory(upstream, limits, deps.logger),
      initParams: { protocolVersion: LEGACY_VERSIONS[0], capabilities: GATEWAY_CLIENT_CAPABILITIES, clientInfo: GATEWAY_CLIENT_INFO },
      timeoutMs: config.timeoutMs,
      logger: deps.logger,
    });
    return held;
  }

  /** hot path: built once per session (and again after a re-open), then reused. */
  function sessionUpstreamHeaders(session: ClientSession): Record<string, string> {
    let h = upstreamHeaders.get(session);
    if (h?.['mcp-session-id'] !== (session.upstreamSessionId ?? undefined)) h = undefined;
    if (!h) {
      h = { ...base(), 'mcp-protocol-version': session.protocolVersion };
      if (session.upstreamSessionId) h['mcp-session-id'] = session.upstreamSessionId;
      upstreamHeaders.set(session, h);
    }
    return h;
  }


  /** Sends `initialize` upstream and reads its answer whole (it is small, JSON or SSE). */
  async function initializeUpstream(params: JsonObject, id: RequestMessage['id']): Promise<{ response: ResponseMessage; sid: string | null }> {
    const res = await upstream.post(serializeMessage({ kind: 'request', id, method: 'initialize', params }), base());
    let response: ResponseMessage | undefined;
    await forEachUpstreamMessage(res, limits, (m) => {
      if (m.kind === 'response' && m.id === id) response = m;
    });
    if (!response) throw new PortcullisError('UPSTREAM_PROTOCOL', `initialize answered HTTP ${res.statusCode} without a response`);
    const sid = res.headers['mcp-session-id'];
    return { response, sid: typeof sid === 'string' ? sid : null };
  }

  /** The upstream forgot the session (it restarted): open a new one the way the client did. */
  async function reopen(session: ClientSession): Promise<void> {
    const { response, sid } = await initializeUpstream(session.initParams, 'portcullis-reopen');
    if (response.error) throw new PortcullisError('UPSTREAM_PROTOCOL', `re-initialize failed: ${response.error.message}`);
    await deps.sessions.setUpstreamSession(session, sid);
    const done = await upstream.post(
      serializeMessage({ kind: 'notification', method: 'notifications/initialized', params: undefined }),
      sessionUpstreamHeaders(session),
    );
    await done.body.dump();
    deps.logger.info({ server: name }, 'upstream session re-opened');
  }

  return {
    name,
    async initialize(ctx, request, version) {
      const params: JsonObject = { ...request.params, protocolVersion: version };
      if ((await probe.era()) === 'modern') {
        const init = await onModern.initializeResult(version);
        const session = await deps.sessions.create({ server: name, principal: ctx.principal, protocolVersion: version, initParams: params, upstreamSessionId: null });
        new ClientStream(ctx.res, sessionHeaders(session)).final(resultMessage(request.id, init));
        return;
      }
      const { response, sid } = await initializeUpstream(params, request.id);
      const negotiated = response.result?.protocolVersion;
      if (response.error || typeof negotiated !== 'string' || !isLegacyVersion(negotiated)) {
        new ClientStream(ctx.res).final(response.error ? response : unsupportedUpstream(request, negotiated));
        return;
      }
      const session = await deps.sessions.create({ server: name, principal: ctx.principal, protocolVersion: negotiated, initParams: params, upstreamSessionId: sid });
      new ClientStream(ctx.res, sessionHeaders(session)).final(response);
    },

    async sessionMessage(ctx, session, message) {
      if ((probe.verdict ?? (await probe.era())) === 'modern') return onModern.handle(ctx, session, message);
      const body = ctx.body ?? serializeMessage(message);
      let up = await upstream.post(body, sessionUpstreamHeaders(session));
      if (up.statusCode === 404 && session.upstreamSessionId && message.kind === 'request') {
        await up.body.dump();
        await reopen(session);
        up = await upstream.post(body, sessionUpstreamHeaders(session));
      }
      await relayResponse(up, ctx.res, { server: name, limits, requestId: requestIdOf(message), sessionId: session.id, onFinal: ctx.outcome });
    },

    async openStream(ctx, session) {
      if ((await probe.era()) === 'modern') {
        // 2026-07-28 has no standalone stream; the 2025 transport lets a server refuse it.
        sendWireError(ctx.res, wireError(405, RpcCode.INVALID_REQUEST, `upstream ${name} offers no standalone stream`, { headers: { ...sessionHeaders(session), allow: 'POST, DELETE' } }));
        return;
      }
      const abort = new AbortController();
      ctx.res.once('close', () => abort.abort());
      const up = await upstream.get({ ...sessionUpstreamHeaders(session), accept: 'text/event-stream' }, abort.signal);
      if (up.statusCode !== 200) {
        await up.body.dump();
        sendWireError(ctx.res, wireError(up.statusCode === 405 ? 405 : 502, RpcCode.METHOD_NOT_FOUND, `upstream ${name} offers no standalone stream (HTTP ${up.statusCode})`, { headers: sessionHeaders(session) }));
        return;
      }
      session.streams.add(ctx.res);
      ctx.res.once('close', () => session.streams.delete(ctx.res));
      await relayResponse(up, ctx.res, { server: name, limits, requestId: null, sessionId: session.id });
    },

    async endSession(ctx, session) {
      if (session.upstreamSessionId && (await probe.era()) === 'legacy') {
        await upstream
          .delete(sessionUpstreamHeaders(session))
          .then((r) => r.body.dump())
          .catch(() => undefined);
      }
      await deps.sessions.end(session);
      ctx.res.writeHead(200).end();
    },

    async modern(ctx, message, version) {
      if ((await probe.era()) === 'legacy') return serveHeld(ctx, message);
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: JSON_AND_SSE, 'mcp-protocol-version': version };
      if (message.kind !== 'response') {
        headers['mcp-method'] = message.method;
        const nameValue = nameOf(message.method, message.params);
        if (nameValue !== undefined) headers['mcp-name'] = encodeHeaderValue(nameValue);
      }
      for (const [key, value] of Object.entries(ctx.req.headers)) {
        if (key.startsWith('mcp-param-') && typeof value === 'string') headers[key] = value;
      }
      const abort = new AbortController();
      // In 2026-07-28 a closed response stream is the cancellation signal; pass it on.
      ctx.res.once('close', () => abort.abort());
      const up = await upstream.post(ctx.body ?? serializeMessage(message), headers, abort.signal);
      await relayResponse(up, ctx.res, { server: name, limits, requestId: requestIdOf(message), onFinal: ctx.outcome });
    },

    health: () => ({ name, transport: 'http', state: held?.state ?? 'ready' }),

    async close() {
      await held?.close();
      await upstream.close();
    },
  };

  async function serveHeld(ctx: McpContext, message: Message): Promise<void> {
    if (message.kind !== 'request') {
      ctx.res.writeHead(202).end();
      return;
    }
    const channel = heldChannel();
    if (message.method === 'server/discover') {
      new ClientStream(ctx.res).final(resultMessage(message.id, discoverResultFor(await channel.ready())));
      return;
    }
    deps.bridge.serve(channel, ctx.principal, message, ctx.res, ctx.outcome);
  }
}

function base(): Record<string, string> {
  return { 'content-type': 'application/json', accept: JSON_AND_SSE };
}

function requestIdOf(message: Message): RequestMessage['id'] | null {
  return message.kind === 'request' ? message.id : null;
}

function unsupportedUpstream(request: RequestMessage, negotiated: unknown): ResponseMessage {
  return {
    kind: 'response',
    id: request.id,
    error: { code: RpcCode.UPSTREAM_PROTOCOL, message: `upstream negotiated protocol ${String(negotiated)}, which Portcullis does not speak` },
  };
}
