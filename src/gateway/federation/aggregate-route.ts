import type { Logger } from '../../logger.js';
import { AGGREGATE_SERVER } from '../../oauth/oauth-settings.js';
import { VERSION } from '../../version.js';
import type { CallGate } from '../call-gate.js';
import { resultMessage } from '../channel-serving.js';
import { ClientStream } from '../client-stream.js';
import type { JsonObject, Message, RequestMessage } from '../jsonrpc/message.js';
import type { MrtrBridge } from '../mrtr-bridge.js';
import { META_SERVER_INFO, MODERN_VERSIONS } from '../protocol.js';
import { openGatewayStream, sessionHeaders } from '../routes/route-helpers.js';
import { mcpContext, type McpContext, type ServerRoute } from '../routes/server-route.js';
import type { SessionRegistry } from '../sessions.js';
import { RpcCode, sendWireError, wireError } from '../wire-error.js';
import { ListChanges } from './list-changes.js';
import { MERGED_LISTS, mergedPage } from './merged-lists.js';
import type { Namespace } from './namespace.js';
import { ROUTED_METHODS, serveRoutedCall, type ListedNames, type RoutedCallDeps } from './routed-call.js';
import type { Caller, UpstreamPool } from './upstream-pool.js';

/** The route key of the aggregated endpoint (`/mcp`); its OAuth resource is `{baseUrl}/mcp`. */
export const AGGREGATE = AGGREGATE_SERVER;

const CAPABILITIES: JsonObject = Object.freeze({ tools: { listChanged: true }, resources: { listChanged: true }, prompts: { listChanged: true } });
const SERVER_INFO: JsonObject = Object.freeze({ name: 'portcullis', version: VERSION });

export interface AggregateRouteDeps {
  pool: UpstreamPool;
  namespace: Namespace;
  gate: CallGate;
  sessions: SessionRegistry;
  bridge: MrtrBridge;
  /** The cache hint on complete merged lists for 2026-07-28 clients (`federation.listTtlMs`). */
  listTtlMs: number;
  logger: Logger;
}

/**
 * `/mcp`: every registered server behind one endpoint. Lists are merged (`merged-lists.ts`) and
 * filtered by the agent's grants; `tools/call`, `prompts/get` and `resources/read` are routed to
 * their upstream (`routed-call.ts`). Each 2025-era client session uses upstream sessions of its
 * own (`upstream-pool.ts`). The endpoint gates its calls itself (`selfGated`): the generic gate
 * would only see the namespaced name.
 */
export function createAggregateRoute(deps: AggregateRouteDeps): ServerRoute & { selfGated: true } {
  const { pool, namespace, gate, sessions } = deps;
  const listed: ListedNames = new Map();
  const changes = new ListChanges();
  const routing: RoutedCallDeps = { pool, namespace, gate, bridge: deps.bridge, listed };

  pool.onBroadcast((_server, m, session) => changes.notice(m.method, session ? session.streams : changes.everyone));

  async function serve(ctx: McpContext, caller: Caller, request: RequestMessage, headers: Record<string, string>, modern: boolean): Promise<void> {
    const { method } = request;
    if (method === 'ping') return new ClientStream(ctx.res, headers).final(resultMessage(request.id, modern ? { resultType: 'complete' } : {}));
    if (method === 'server/discover' && modern) {
      return new ClientStream(ctx.res).final(resultMessage(request.id, { resultType: 'complete', supportedVersions: [...MODERN_VERSIONS], capabilities: CAPABILITIES, ttlMs: 0, cacheScope: 'private', _meta: { [META_SERVER_INFO]: SERVER_INFO } }));
    }
    if (method in MERGED_LISTS) return serveList(ctx, caller, request, headers, modern);
    if (ROUTED_METHODS.has(method)) return serveRoutedCall(routing, ctx, caller, request, headers, modern);
    return new ClientStream(ctx.res, headers).final({ kind: 'response', id: request.id, error: { code: RpcCode.METHOD_NOT_FOUND, message: `method ${method} is not served by the aggregated endpoint` } });
  }

  async function serveList(ctx: McpContext, caller: Caller, request: RequestMessage, headers: Record<string, string>, modern: boolean): Promise<void> {
    const page = await mergedPage(
      {
        pool,
        namespace,
        ttlMs: deps.listTtlMs,
        listHook: (server, upstreamRequest) => gate.listHook(mcpContext(server, ctx, ctx.req, ctx.res, undefined, ctx.outcome), upstreamRequest, 'all'),
        remember(exposed, server, name) {
          const known = listed.get(exposed);
          // A name two servers expose (only possible with `prefix: false`) goes to the first one listed.
          if (known && known.server !== server) return false;
          listed.set(exposed, { server, name });
          return true;
        },
        onSkipped: (server, name, error) => deps.logger.warn({ server, tool: name }, `not exposed on /mcp: ${error}`),
      },
      caller,
      request,
    );
    if (!page) return new ClientStream(ctx.res, headers).final({ kind: 'response', id: request.id, error: { code: RpcCode.INVALID_PARAMS, message: 'Invalid params: unknown cursor' } });
    // 2026-07-28 list results carry cache hints; a merged list is per agent (grants, pins), so private.
    if (modern) Object.assign(page.result, { resultType: 'complete', ttlMs: page.ttlMs, cacheScope: 'private' });
    return new ClientStream(ctx.res, headers).final(resultMessage(request.id, page.result));
  }

  return {
    name: AGGREGATE,
    selfGated: true,

    async initialize(ctx, request, version) {
      // No upstream is touched here: each opens on the first request of this session that needs it.
      const session = await sessions.create({ server: AGGREGATE, principal: ctx.principal, protocolVersion: version, initParams: { ...request.params, protocolVersion: version }, upstreamSessionId: null });
      new ClientStream(ctx.res, sessionHeaders(session)).final(resultMessage(request.id, { protocolVersion: version, capabilities: CAPABILITIES, serverInfo: SERVER_INFO }));
    },

    async sessionMessage(ctx, session, message) {
      if (message.kind === 'request') return serve(ctx, { owner: session.id, session }, message, sessionHeaders(session), false);
      if (message.kind === 'notification') {
        // Ids are rewritten per client, so only the upstream holding this client's request acts on it.
        if (message.method === 'notifications/cancelled') for (const channel of pool.channelsOf(session)) channel.notify(session.id, message);
        ctx.res.writeHead(202).end();
        return;
      }
      const answered = pool.channelsOf(session).some((channel) => channel.respond(session.id, message));
      if (answered) ctx.res.writeHead(202).end();
      else sendWireError(ctx.res, wireError(400, RpcCode.INVALID_REQUEST, 'Invalid Request: no pending server request has this id', { id: message.id }));
    },

    async openStream(ctx, session) {
      openGatewayStream(ctx.res, session, changes.everyone);
      // The session's own upstream sessions hold their standalone streams open while it listens.
      pool.listen(session, true);
      ctx.res.once('close', () => {
        if (session.streams.size === 0) pool.listen(session, false);
      });
    },

    async endSession(ctx, session) {
      await sessions.end(session);
      ctx.res.writeHead(200).end();
    },

    async modern(ctx, message: Message) {
      if (message.kind !== 'request') {
        ctx.res.writeHead(202).end();
        return;
      }
      return serve(ctx, { owner: ctx.principal }, message, {}, true);
    },

    health: () => ({ name: AGGREGATE, transport: 'http', state: pool.health().some((h) => h.state === 'down') ? 'degraded' : 'ready' }),

    async close() {
      changes.close();
      await pool.close();
    },
  };
}
