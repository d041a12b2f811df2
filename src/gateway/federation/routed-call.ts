import type { CallGate } from '../call-gate.js';
import { serveChannelCall } from '../channel-serving.js';
import { ClientStream, type FinalHook } from '../client-stream.js';
import type { JsonObject, RequestMessage, ResponseMessage } from '../jsonrpc/message.js';
import type { MrtrBridge } from '../mrtr-bridge.js';
import { META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION } from '../protocol.js';
import { mcpContext, type McpContext } from '../routes/server-route.js';
import { RpcCode } from '../wire-error.js';
import type { Namespace } from './namespace.js';
import { relayChannelCall } from './relayed-call.js';
import type { Caller, UpstreamPool } from './upstream-pool.js';

/** The methods the aggregated endpoint routes to one upstream by the name or URI they carry. */
export const ROUTED_METHODS: ReadonlySet<string> = new Set(['tools/call', 'prompts/get', 'resources/read']);

/** Exposed tool/prompt name → where it came from, as last listed (covers `prefix: false` names). */
export type ListedNames = Map<string, { server: string; name: string }>;

export interface RoutedCallDeps {
  pool: UpstreamPool;
  namespace: Namespace;
  gate: CallGate;
  bridge: MrtrBridge;
  listed: ListedNames;
}

interface Target {
  server: string;
  params: JsonObject;
  /** Renames what the answer carries back into the endpoint's namespace. */
  back?: (r: ResponseMessage) => ResponseMessage;
}

/**
 * A `tools/call`, `prompts/get` or `resources/read` on `/mcp`: found by its namespaced name or
 * URI, decided by the call gate with the routed server and the upstream's own name (so policy,
 * pins and audit are per server and tool, exactly as on `/mcp/{server}`), then forwarded over
 * the caller's upstream session. 2025-era clients get server→client requests (elicitation) on
 * the call's stream; 2026-07-28 clients get them as `input_required` results (the MRTR bridge).
 */
export async function serveRoutedCall(deps: RoutedCallDeps, ctx: McpContext, caller: Caller, request: RequestMessage, headers: Record<string, string>, modern: boolean): Promise<void> {
  const { method } = request;
  const target = locate(deps, method, request.params ?? {});
  if (!target) {
    const what = method === 'resources/read' ? `resource ${String(request.params?.uri)}` : `${method === 'tools/call' ? 'tool' : 'prompt'} ${String(request.params?.name)}`;
    return new ClientStream(ctx.res, headers).final({
      kind: 'response',
      id: request.id,
      error: { code: RpcCode.INVALID_PARAMS, message: `unknown ${what} (list first; names are {server}${deps.namespace.separator}{name})` },
    });
  }
  const routed: RequestMessage = { kind: 'request', id: request.id, method, params: modern ? withoutEnvelope(target.params) : target.params };
  const routedCtx = mcpContext(target.server, ctx, ctx.req, ctx.res, undefined, ctx.outcome);
  // Before the gate, so a call is never recorded as attempted on a session that has just ended
  // (nothing connects yet: the upstream session opens with the call).
  const channel = deps.pool.channel(target.server, caller.session);
  let hook: FinalHook | undefined;
  if (deps.gate.isGated(method)) {
    const admission = await deps.gate.admit(routedCtx, routed);
    if (!admission.ok) return new ClientStream(ctx.res, headers).final(admission.response);
    hook = admission.hook;
  }
  const { pool } = deps;
  const observer: FinalHook = (final, status) => {
    pool.noteFailure(target.server, final.error && final.error.code <= RpcCode.UPSTREAM_UNAVAILABLE && final.error.code >= RpcCode.UPSTREAM_PROTOCOL ? new Error(final.error.message) : undefined);
    hook?.(final, status);
    return target.back?.(final);
  };
  if (modern) deps.bridge.serve(channel, caller.owner, routed, ctx.res, observer);
  else if (channel.relays && caller.session) await relayChannelCall(channel, caller.owner, routed, ctx.res, caller.session.id, pool.limits, observer);
  else serveChannelCall(channel, caller.owner, routed, ctx.res, headers, observer);
}

function locate(deps: RoutedCallDeps, method: string, params: JsonObject): Target | undefined {
  const { namespace } = deps;
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
  const found = exposed === undefined ? undefined : (namespace.resolve(exposed) ?? deps.listed.get(exposed));
  return found && { server: found.server, params: { ...params, name: found.name } };
}

/**
 * A 2026-07-28 request goes upstream over a 2025-era session, so its envelope (protocol version,
 * client info and capabilities in `_meta`) stays behind: an upstream that speaks both eras would
 * refuse a body naming a version its session header does not.
 */
function withoutEnvelope(params: JsonObject): JsonObject {
  const meta = params._meta as JsonObject | undefined;
  if (!meta) return params;
  const { [META_PROTOCOL_VERSION]: _v, [META_CLIENT_INFO]: _i, [META_CLIENT_CAPABILITIES]: _c, ...rest } = meta;
  return { ...params, _meta: rest };
}
