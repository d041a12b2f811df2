import type { Denial, DenialCode, PolicyAction } from './types.js';

/**
 * Denial sentences. The gateway puts `reason` in the JSON-RPC error message, so it names what was
 * refused and why in plain words, and never echoes argument values back.
 */

const NOUN: Readonly<Record<PolicyAction, string>> = { call: 'tool', read: 'resource', get: 'prompt', list: 'list' };

/** `tool github.delete_repo`, `resource fs.file:///etc/hosts`, … */
export function describeTarget(action: PolicyAction, server: string, tool: string): string {
  return `${NOUN[action] ?? String(action)} ${server}.${tool}`;
}

/** Builds a denial: `tool github.delete_repo denied: no permission mcp:github:delete_repo`. */
export function denial(
  code: DenialCode,
  target: { readonly action: PolicyAction; readonly server: string; readonly tool: string },
  detail: string,
  cause?: unknown,
): Denial {
  const reason = `${describeTarget(target.action, target.server, target.tool)} denied: ${detail}`;
  return cause === undefined ? { allow: false, code, reason } : { allow: false, code, reason, cause };
}
