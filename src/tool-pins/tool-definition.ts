import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

/**
 * The parts of an MCP tool that a model reads or that decide what a call may carry: a change to
 * any of them can turn an approved tool into a different one (the "rug pull"). `title`, `icons`
 * and `_meta` are presentation and transport details and are left out on purpose.
 */
export const PINNED_FIELDS = ['name', 'description', 'inputSchema', 'outputSchema', 'annotations'] as const;

/** A tool's pinned definition: the {@link PINNED_FIELDS} it declares, nothing else. */
export type ToolDefinition = Readonly<Record<string, unknown>>;

/** The pinned fields of a tool as listed by an upstream. */
export function toolDefinitionOf(tool: Readonly<Record<string, unknown>>): ToolDefinition {
  const definition: Record<string, unknown> = {};
  for (const field of PINNED_FIELDS) if (tool[field] !== undefined) definition[field] = tool[field];
  return definition;
}

/** A definition's pin: its canonical JSON and that text's SHA-256 (hex). */
export function pinOf(definition: ToolDefinition): { hash: string; canonical: string } {
  const canonical = canonicalJson(definition);
  return { hash: createHash('sha256').update(canonical).digest('hex'), canonical };
}
