import type { FinalHook } from '../client-stream.js';
import type { JsonObject, RequestMessage } from '../jsonrpc/message.js';
import { decodeMergedCursor, encodeMergedCursor } from './merged-cursor.js';
import type { Namespace } from './namespace.js';
import type { UpstreamPool } from './upstream-pool.js';

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
  /** The gate's view of one server's `tools/list` answer (pins, then policy), or undefined. */
  listHook(server: string, request: RequestMessage): FinalHook | undefined;
  /** Remembers which exposed name came from where (needed for `prefix: false` names); false = taken. */
  remember(exposed: string, server: string, name: string): boolean;
  onSkipped(server: string, name: string, error: string): void;
}

/**
 * One merged page: the next page of every upstream still paging, asked in parallel, renamed into
 * the endpoint's namespace, with the opaque cursor for what is left. Undefined: a bad cursor.
 */
export async function mergedPage(deps: MergeDeps, owner: string, request: RequestMessage): Promise<JsonObject | undefined> {
  const kind = MERGED_LISTS[request.method];
  const cursor = request.params?.cursor;
  const servers = deps.pool.servers;
  const position = decodeMergedCursor(typeof cursor === 'string' ? cursor : undefined, servers);
  if (!position) return undefined;
  const items: unknown[] = [];
  const next = new Map<string, string>();
  const unavailable: string[] = [];
  const pages = await Promise.all(
    [...position].map(async ([server, upstreamCursor]) => {
      const upstreamRequest: RequestMessage = { kind: 'request', id: request.id, method: request.method, params: upstreamCursor === undefined ? {} : { cursor: upstreamCursor } };
      try {
        let final = await deps.pool.request(server, owner, upstreamRequest);
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
  if (unavailable.length > 0) result._meta = { [UNAVAILABLE_META]: unavailable };
  return result;
}
