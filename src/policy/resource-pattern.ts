/**
 * Resource patterns `mcp:{server}:{tool}`: segments split on `:`, where `*` stands for exactly
 * one segment and a trailing `**` for one or more. `patternCovers` is the one matcher of the
 * engine: it decides calls (concrete targets) and delegation subsets (pattern targets) alike,
 * so "the child's pattern is inside the parent's" can never disagree with "the call matches".
 */

/** Wildcard for exactly one segment. */
export const ONE_SEGMENT = '*';
/** Wildcard for one or more segments; only as the last segment. */
export const ANY_BELOW = '**';
/** Longest resource pattern accepted. */
export const MAX_PATTERN_LENGTH = 512;
const MAX_SEGMENTS = 32;

/** A parsed pattern; `server` and `exactTool` feed the index so most lookups are Map hits. */
export interface ResourcePattern {
  readonly source: string;
  readonly segments: readonly string[];
  /** The literal server segment, or `null` when the server is a wildcard. */
  readonly server: string | null;
  /** The tool part when every segment is literal (an exact grant), else `null`. */
  readonly exactTool: string | null;
  /** Higher = narrower; orders matching grants so the most specific is tried first. */
  readonly specificity: number;
}

/** A parsed pattern, or why it is refused. */
export type ParsePatternResult =
  | { readonly ok: true; readonly pattern: ResourcePattern }
  | { readonly ok: false; readonly message: string };

/** Parses and validates a pattern such as `mcp:github:*` or `mcp:**`. */
export function parseResourcePattern(source: string): ParsePatternResult {
  if (source.length > MAX_PATTERN_LENGTH) {
    return { ok: false, message: `resource is longer than ${MAX_PATTERN_LENGTH} characters` };
  }
  const segments = source.split(':');
  if (segments[0] !== 'mcp') return { ok: false, message: 'resource must start with "mcp:"' };
  if (segments.length > MAX_SEGMENTS) return { ok: false, message: `resource has more than ${MAX_SEGMENTS} segments` };
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i];
    if (s === '') return { ok: false, message: `segment ${i} of resource is empty` };
    if (s === ANY_BELOW && i !== segments.length - 1) {
      return { ok: false, message: '"**" may only be the last segment' };
    }
    if (s !== ONE_SEGMENT && s !== ANY_BELOW && s.includes('*')) {
      return { ok: false, message: `segment "${s}": "*" must be a whole segment` };
    }
  }
  const last = segments[segments.length - 1];
  if (segments.length < 3 && last !== ANY_BELOW) {
    return { ok: false, message: 'resource must be mcp:{server}:{tool} (or end in "**")' };
  }
  const server = segments[1] === ONE_SEGMENT || segments[1] === ANY_BELOW ? null : segments[1];
  const literalTail = segments.slice(2).every((s) => s !== ONE_SEGMENT && s !== ANY_BELOW);
  const exactTool = server !== null && literalTail ? segments.slice(2).join(':') : null;
  let specificity = 0;
  for (const s of segments) specificity += s === ANY_BELOW ? 0 : s === ONE_SEGMENT ? 1 : 100;
  if (last !== ANY_BELOW) specificity += 10;
  return {
    ok: true,
    pattern: Object.freeze({ source, segments: Object.freeze(segments), server, exactTool, specificity }),
  };
}

/** The segments of a concrete call target, `mcp:{server}:{tool}`. */
export function targetSegments(server: string, tool: string): string[] {
  const segments = ['mcp', server];
  for (const s of tool.split(':')) segments.push(s);
  return segments;
}

/**
 * Whether every resource `target` can name is also named by `pattern`. For a concrete target
 * this is "the pattern matches". A wildcard in the target is treated as the set it stands for,
 * so `*` covers `*` but not `**`, and a literal never covers a wildcard: a wider child pattern
 * is never inside a narrower parent one.
 */
export function patternCovers(pattern: readonly string[], target: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p === ANY_BELOW) return target.length > i;
    if (i >= target.length) return false;
    const t = target[i];
    if (p === ONE_SEGMENT) {
      if (t === ANY_BELOW) return false;
    } else if (p !== t) {
      return false;
    }
  }
  return target.length === pattern.length;
}

/** Whether the target names more than one resource (contains a wildcard segment). */
export function isWildcardSegment(segment: string): boolean {
  return segment === ONE_SEGMENT || segment === ANY_BELOW;
}
