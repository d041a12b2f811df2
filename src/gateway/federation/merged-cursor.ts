/**
 * The opaque cursor of a merged list on the aggregated endpoint. A merged page holds one page of
 * every upstream still paging, fetched in parallel; the cursor maps each upstream that has more
 * to its own cursor, so a client that pages on sees each upstream's pages exactly once. Clients
 * treat it as opaque (MCP pagination); one that does not decode is an invalid-params error.
 */

/** Upstream → its cursor for the next page. `undefined` (no cursor): every upstream, from the start. */
export type MergedPosition = ReadonlyMap<string, string>;

export function encodeMergedCursor(position: MergedPosition): string | undefined {
  if (position.size === 0) return undefined;
  return Buffer.from(JSON.stringify(Object.fromEntries(position))).toString('base64url');
}

/** The upstreams to ask and their cursors; undefined when the cursor is not one of ours. */
export function decodeMergedCursor(cursor: string | undefined, servers: readonly string[]): Map<string, string | undefined> | undefined {
  if (cursor === undefined) return new Map(servers.map((s) => [s, undefined]));
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0 || entries.some(([s, c]) => !servers.includes(s) || typeof c !== 'string')) return undefined;
  return new Map(entries as [string, string][]);
}
