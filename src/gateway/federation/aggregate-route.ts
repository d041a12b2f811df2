import type { ServerResponse } from 'node:http';
import type { Logger } from '../../logger.js';
import { AGGREGATE_SERVER } from '../../oauth/oauth-settings.js';
import { VERSION } from '../../version.js';
import type { CallGate } from '../call-gate.js';
import { resultMessage, serveChannelCall } from '../channel-serving.js';
import { ClientStream, type FinalHook } from '../client-stream.js';
import { serializeMessage, type JsonObject, type Message, type RequestMessage, type ResponseMessage } from '../jsonrpc/message.js';
import type { MrtrBridge } from '../mrtr-bridge.js';
import { META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION, META_SERVER_INFO, MODERN_VERSIONS } from '../protocol.js';
import { openGatewayStream, sessionHeaders } from '../routes/route-helpers.js';
import type { McpContext, ServerRoute } from '../routes/server-route.js';
import { formatSseEvent } from '../sse-parser.js';
import type { SessionRegistry } from '../sessions.js';
import { RpcCode, sendWireError, wireError } from '../wire-error.js';
import { MERGED_LISTS, mergedPage } from './merged-lists.js';
import type { Namespace } from './namespace.js';
import type { UpstreamPool } from './upstream-pool.js';

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
  logger: Logger;
}

/**
 * `/mcp`: every registered server behind one endpoint. Lists are merged (`merged-lists.ts`);
 * `tools/call`, `prompts/get` and `resources/read` are routed by their namespaced name or URI to
 * the upstream, through the same call gate as `/mcp/{server}` with the routed server and the
 * upstream's own name (so policy, pins and audit are per server and tool). The endpoint gates
 * its calls itself (`selfGated`): the generic gate would only see the namespaced name.
 */
export function createAggregateRoute(deps: AggregateRouteDeps): ServerRoute & { selfGated: true } {
  const { pool, namespace, gate, sessions } = deps;
  /** Exposed tool/prompt name → where it came from, as last listed (covers `prefix: false`). */
  const listed = new Map<string, { server: string; name: string }>();
  const streams = new Set<ServerResponse>();
  let pendingNotices: Set<string> | undefined;

  // A list change anywhere is a change of the merged list: one notification per kind and tick.
  pool.onBroadcast((_server, m) => {
    if (!m.method.endsWith('/list_changed')) return;
    if (!pendingNotices) {
      pendingNotices = new Set();
      queueMicrotask(() => {
        const methods = pendingNotices!;
        pendingNotices = undefined;
        for (const method of methods) {
          const event = formatSseEvent(serializeMessage({ kind: 'notification', method, params: undefined }));
          for (const res of streams) res.write(event);
        }
      });
    }
    pendingNotices.add(m.method);
  });

  function locate(method: string, params: JsonObject): { server: string; params: JsonObject; back?: (r: ResponseMessage) => ResponseMessage } | undefined {
    if (method === 'resources/read') {
      const found = typeof params.uri === 'string' ? namespace.resolveUri(params.uri) : undefined;
      if (!found) return undefined;
      const back = (r: ResponseMessage) => {
        const contents = r.result?.contents;
        if (!Array.isArray(contents)) return r;
        const renamed = contents.map((c) => (typeof (c as JsonObject)?.uri === 'string' ? { ...(c as JsonObject), uri: namespace.exposeUri(found.server, (c as JsonObject).uri as string) } : c));
        return { ...r, result: { ...r.result, contents: renamed } };
      };
      return { server: found.server, params: { ...params, uri: found.uri }, back };
    }
    const exposed = typeof params.name === 'string' ? params.name : undefined;
    const found = exposed === undefined ? undefined : (namespace.resolve(exposed) ?? listed.get(exposed));
    return found && { server: found.server, params: { ...params, name: found.name } };
  }

  async function serve(ctx: McpContext, owner: string, request: RequestMessage, headers: Record<string, string>, modern: boolean): Promise<void> {
    const { method } = request;
    if (method === 'ping') return new ClientStream(ctx.res, headers).final(resultMessage(request.id, modern ? { resultType: 'complete' } : {}));
    if (method === 'server/discover' && modern) {
      return new ClientStream(ctx.res).final(resultMessage(request.id, { resultType: 'complete', supportedVersions: [...MODERN_VERSIONS], capabilities: CAPABILITIES, ttlMs: 0, cacheScope: 'private', _meta: { [META_SERVER_INFO]: SERVER_INFO } }));
    }
    if (method in MERGED_LISTS) {
      const page = await mergedPage(
        {
          pool,
          namespace,
          listHook: (server, upstreamRequest) => gate.listHook({ ...ctx, server }, upstreamRequest),
          remember(exposed, server, name) {
            const known = listed.get(exposed);
            // A name two servers expose (only possible with `prefix: false`) goes to the first one listed.
            if (known && known.server !== server) return false;
            listed.set(exposed, { server, name });
            return true;
          },
          onSkipped: (server, name, error) => deps.logger.warn({ server, tool: name }, `not exposed on /mcp: ${error}`),
        },
        owner,
        request,
      );
      if (!page) return new ClientStream(ctx.res, headers).final({ kind: 'response', id: request.id, error: { code: RpcCode.INVALID_PARAMS, message: 'Invalid params: unknown cursor' } });
      // 2026-07-28 list results carry cache hints; a merged list is per agent (grants, pins) and changes with any upstream.
      if (modern) Object.assign(page, { resultType: 'complete', ttlMs: 0, cacheScope: 'private' });
      return new ClientStream(ctx.res, headers).final(resultMessage(request.id, page));
    }
    if (method !== 'tools/call' && method !== 'prompts/get' && method !== 'resources/read') {
      return new ClientStream(ctx.res, headers).final({ kind: 'response', id: request.id, error: { code: RpcCode.METHOD_NOT_FOUND, message: `method ${method} is not served by the aggregated endpoint` } });
    }
    const target = locate(method, request.params ?? {});
    if (!target) {
      const what = method === 'resources/read' ? `resource ${String(request.params?.uri)}` : `${method === 'tools/call' ? 'tool' : 'prompt'} ${String(request.params?.name)}`;
      return new ClientStream(ctx.res, headers).final({ kind: 'response', id: request.id, error: { code: RpcCode.INVALID_PARAMS, message: `unknown ${what} (list first; names are {server}${namespace.separator}{name})` } });
    }
    const routed: RequestMessage = { ...request, params: modern ? withoutEnvelope(target.params) : target.params };
    const routedCtx: McpContext = { ...ctx, server: target.server };
    let hook: FinalHook | undefined;
    if (gate.isGated(method)) {
      const admission = await gate.admit(routedCtx, routed);
      if (!admission.ok) return new ClientStream(ctx.res, headers).final(admission.response);
      hook = admission.hook;
    }
    const channel = pool.channel(target.server)!;
    const observer: FinalHook = (final, status) => {
      pool.noteFailure(target.server, final.error && final.error.code <= RpcCode.UPSTREAM_UNAVAILABLE && final.error.code >= RpcCode.UPSTREAM_PROTOCOL ? new Error(final.error.message) : undefined);
      hook?.(final, status);
      return target.back?.(final);
    };
    if (modern) deps.bridge.serve(channel, owner, routed, ctx.res, observer);
    else serveChannelCall(channel, owner, routed, ctx.res, headers, observer);
  }

  return {
    name: AGGREGATE,
    selfGated: true,

    async initialize(ctx, request, version) {
      const session = await sessions.create({ server: AGGREGATE, principal: ctx.principal, protocolVersion: version, initParams: { ...request.params, protocolVersion: version }, upstreamSessionId: null });
      new ClientStream(ctx.res, sessionHeaders(session)).final(resultMessage(request.id, { protocolVersion: version, capabilities: CAPABILITIES, serverInfo: SERVER_INFO }));
    },

    async sessionMessage(ctx, session, message) {
      if (message.kind === 'request') return serve(ctx, session.id, message, sessionHeaders(session), false);
      if (message.kind === 'notification') {
        // Ids are rewritten per client, so only the upstream holding this client's request acts on it.
        if (message.method === 'notifications/cancelled') for (const server of pool.servers) pool.channel(server)!.notify(session.id, message);
        ctx.res.writeHead(202).end();
        return;
      }
      const answered = pool.servers.some((server) => pool.channel(server)!.respond(session.id, message));
      if (answered) ctx.res.writeHead(202).end();
      else sendWireError(ctx.res, wireError(400, RpcCode.INVALID_REQUEST, 'Invalid Request: no pending server request has this id', { id: message.id }));
    },

    async openStream(ctx, session) {
      openGatewayStream(ctx.res, session, streams);
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
      return serve(ctx, ctx.principal, message, {}, true);
    },

    health: () => ({ name: AGGREGATE, transport: 'http', state: pool.health().some((h) => h.state === 'down') ? 'degraded' : 'ready' }),

    async close() {
      for (const res of streams) res.end();
      await pool.close();
    },
  };
}

/**
 * A 2026-07-28 request goes upstream over the gateway's 2025-era session, so its envelope
 * (protocol version, client info and capabilities in `_meta`) stays behind: an upstream that
 * speaks both eras would refuse a body naming a version its session header does not.
 */
function withoutEnvelope(params: JsonObject): JsonObject {
  const meta = params._meta as JsonObject | undefined;
  if (!meta) return params;
  const { [META_PROTOCOL_VERSION]: _v, [META_CLIENT_INFO]: _i, [META_CLIENT_CAPABILITIES]: _c, ...rest } = meta;
  return { ...params, _meta: rest };
}
