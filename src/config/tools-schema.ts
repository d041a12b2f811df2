import { z } from 'zod';

/**
 * `toolPinning` (rug-pull defence; see src/gateway/tool-pins/pin-book.ts):
 * - `enforce` (default): a tool whose definition changed since it was pinned is hidden from
 *   `tools/list` and its calls are denied (`tool_definition_changed`) until approved with
 *   `portcullis tools approve`; calls to unlisted tools (`unknown_tool`) and calls whose
 *   arguments break the pinned `inputSchema` (`schema_violation`) are denied before forwarding.
 * - `warn`: the same checks only log and audit; nothing is hidden or denied.
 * - `off`: no pins are kept.
 */
export const toolPinningSchema = z.enum(['off', 'warn', 'enforce']).default('enforce');

export type ToolPinningMode = z.output<typeof toolPinningSchema>;

/**
 * `federation`: the aggregated endpoint `/mcp`, every registered server behind one URL (see
 * src/gateway/federation/aggregate-route.ts). Tool and prompt names become
 * `{prefix}{separator}{name}`; a server's `prefix` (default: its name, `false`: none) is set on
 * the server itself.
 */
export const federationSchema = z.strictObject({
  enabled: z.boolean().default(true),
  separator: z.string().default('__'),
  /**
   * The cache hint (`ttlMs`) on merged lists for 2026-07-28 clients, which hear no
   * `list_changed`: how long a new or changed tool may go unseen. A stale list grants nothing
   * (every call is decided again), so the cost of reuse is only a late listing. 0 = never reuse.
   */
  listTtlMs: z.number().int().nonnegative().default(30_000),
});

/** A server's name prefix on `/mcp`: a string, or `false` to expose its names unchanged. */
export const serverPrefixSchema = z.union([z.string(), z.literal(false)]).optional();
