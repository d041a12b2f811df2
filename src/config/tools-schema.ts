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
