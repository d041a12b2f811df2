/**
 * JSON Pointer (RFC 6901) parsing and resolution for argument constraints. Pointers are parsed
 * once when a grant is compiled; resolution walks own properties only, so `/__proto__` or
 * `/constructor` can never reach something the caller did not send.
 */

/** Marks a pointer that names nothing in the document. */
export const MISSING: unique symbol = Symbol('missing');

const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

/** Reference tokens, or why the pointer is malformed. */
export type ParsePointerResult =
  | { readonly ok: true; readonly tokens: readonly string[] }
  | { readonly ok: false; readonly message: string };

/** Splits a pointer into unescaped reference tokens (`~1` → `/`, then `~0` → `~`, RFC 6901 §4). */
export function parseJsonPointer(pointer: string): ParsePointerResult {
  if (pointer === '') return { ok: true, tokens: Object.freeze([]) };
  if (!pointer.startsWith('/')) return { ok: false, message: 'a JSON pointer starts with "/"' };
  const tokens: string[] = [];
  for (const raw of pointer.slice(1).split('/')) {
    if (/~[^01]|~$/.test(raw)) return { ok: false, message: `bad escape in "${raw}" (use ~0 or ~1)` };
    tokens.push(raw.replaceAll('~1', '/').replaceAll('~0', '~'));
  }
  return { ok: true, tokens: Object.freeze(tokens) };
}

/** The value at `tokens` in `doc`, or `MISSING`. */
export function resolveJsonPointer(doc: unknown, tokens: readonly string[]): unknown {
  let node: unknown = doc;
  for (const token of tokens) {
    if (Array.isArray(node)) {
      if (!ARRAY_INDEX.test(token)) return MISSING;
      const i = Number(token);
      if (i >= node.length) return MISSING;
      node = node[i];
    } else if (typeof node === 'object' && node !== null) {
      if (!Object.hasOwn(node, token)) return MISSING;
      node = (node as Record<string, unknown>)[token];
    } else {
      return MISSING;
    }
  }
  return node;
}
