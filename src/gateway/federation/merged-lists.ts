import type { FinalHook } from '../client-stream.js';
import type { JsonObject, RequestMessage } from '../jsonrpc/message.js';
import { decodeMergedCursor, encodeMergedCursor } from './merged-cursor.js';
import type { Namespace } from './namespace.js';
import type { Caller, UpstreamPool } from './upstream-pool.js';

/** The list methods the aggregated endpoint merges, the result key each answers in, and how an item is renamed. */
export const MERGED_LISTS: Readonly<Record<string, { key: string; field: 'name' | 'uri' | 'uriTemplate' }>> = Object.freeze({
  'tools/list': { key: 'tools', field: 'name' },
  'prompts/list': { key: 'prompts', field: 'name' },
  'resources/list': { key: 'resources', field: 'uri' },
  'resources/templates/list': { key: 'resourceTemplates', field: 'uriTemplate' },
});

/** Where the result says which servers could not be asked (the rest of the list still comes). */
export const UNAVAILABLE_META = 'portcullis/unavailable';

export interface MergeDeps {
  pool: UpstreamPool;
  namespace: Namespace;
  /** How long a 2026-07-28 client may reuse a complete merged page (`federation.listTtlMs`). */
  ttlMs: number;
  /** The gate's view of one server's list answer (pins, then the agent's grants), or undefined. */
  listHook(server: string, request: RequestMessage): FinalHook | undefined;
  /** Remembers which exposed name came from where (needed for `prefix: false` names); false = taken. */
  remember(exposed: string, server: string, name: string): boolean;
  onSkipped(server: string, name: string, error: string): void;
}

/** A merged page, and how long it may be reused (the cache hint 2026-07-28 clients get). */
export interface MergedPage {
  result: JsonObject;
  ttlMs: number;
}

/**
 * One merged page: the next page of every upstream still paging, asked in parallel, renamed into
 * the endpoint's namespace, with the opaque cursor for what is left. Undefined: a bad cursor.
 *
 * Its cache hint is the configured `ttlMs`, or less when an upstream asked for less; a page
 * missing an unavailable server gets 0, so the server's items come back as soon as it does. A
 * reused list can never grant anything: every routed call is decided again (grants, pins).
 */
export async function mergedPage(deps: MergeDeps, caller: Caller, request: RequestMessage): Promise<MergedPage | undefined> {
  const kind = MERGED_LISTS[request.method];
  const cursor = request.params?.cursor;
  const servers = deps.pool.servers;
  const position = decodeMergedCursor(typeof cursor === 'string' ? cursor : undefined, servers);
  if (!position) return undefined;
  const items: unknown[] = [];
  const next = new Map<string, string>();
  const unavailable: string[] = [];
  let ttlMs = deps.ttlMs;
  const pages = await Promise.all(
    [...position].map(async ([server, upstreamCursor]) => {
      const upstreamRequest: RequestMessage = { kind: 'request', id: request.id, method: request.method, params: upstreamCursor === undefined ? {} : { cursor: upstreamCursor } };
      try {
        let final = await deps.pool.request(server, caller, upstreamRequest);
        const hook = deps.listHook(server, upstreamRequest);
        if (hook) final = hook(final, 200) ?? final;
        return { server, final };
      } catch {
        return { server, final: undefined };
      }
    }),
  );
  for (const { server, final } of pages) {
    const list = final?.result?.[kind.key];
    if (!final || final.error || !Array.isArray(list)) {
      unavailable.push(server);
      continue;
    }
    const upstreamTtl = final.result!.ttlMs;
    if (typeof upstreamTtl === 'number' && upstreamTtl >= 0) ttlMs = Math.min(ttlMs, upstreamTtl);
    for (const item of list as JsonObject[]) {
      const original = item?.[kind.field];
      if (typeof original !== 'string') continue;
      if (kind.field === 'name') {
        const exposed = deps.namespace.expose(server, original);
        if (!exposed.ok) {
          deps.onSkipped(server, original, exposed.error);
          continue;
        }
        if (!deps.remember(exposed.name, server, original)) {
          deps.onSkipped(server, original, `"${exposed.name}" is already offered by another server; give ${server} a prefix`);
          continue;
        }
        items.push({ ...item, name: exposed.name });
      } else {
        items.push({ ...item, [kind.field]: deps.namespace.exposeUri(server, original) });
      }
    }
    if (typeof final.result!.nextCursor === 'string') next.set(server, final.result!.nextCursor);
  }
  const result: JsonObject = { [kind.key]: items };
  const nextCursor = encodeMergedCursor(next);
  if (nextCursor !== undefined) result.nextCursor = nextCursor;
  if (unavailable.length > 0) {
    result._meta = { [UNAVAILABLE_META]: unavailable };
    ttlMs = 0;
  }
  return { result, ttlMs };
}
