import { describe, expect, it } from 'vitest';
import { parseResourcePattern, patternCovers, targetSegments } from '../../src/policy/index.js';

const segs = (p: string) => p.split(':');

describe('parseResourcePattern', () => {
  it.each([
    ['mcp:github:create_issue', null, 'github', 'create_issue'],
    ['mcp:github:*', null, 'github', null],
    ['mcp:*:read_file', null, null, null],
    ['mcp:github:**', null, 'github', null],
    ['mcp:**', null, null, null],
    ['mcp:fs:file:**', null, 'fs', null],
  ])('%s parses', (source, _err, server, exactTool) => {
    const r = parseResourcePattern(source);
    expect(r.ok).toBe(true);
    if (r.ok) expect({ server: r.pattern.server, exactTool: r.pattern.exactTool }).toEqual({ server, exactTool });
  });

  it.each([
    ['github:*', 'must start with "mcp:"'],
    ['mcp:github', 'mcp:{server}:{tool}'],
    ['mcp:github:', 'empty'],
    ['mcp::x', 'empty'],
    ['mcp:**:x', '"**" may only be the last segment'],
    ['mcp:github:get_*', '"*" must be a whole segment'],
    ['mcp:git*:x', '"*" must be a whole segment'],
    [`mcp:github:${'x'.repeat(600)}`, 'longer than'],
  ])('%s is refused', (source, message) => {
    const r = parseResourcePattern(source);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain(message);
  });

  it('orders exact before one-segment before any-below', () => {
    const spec = (s: string) => (parseResourcePattern(s) as { ok: true; pattern: { specificity: number } }).pattern.specificity;
    expect(spec('mcp:github:x')).toBeGreaterThan(spec('mcp:github:*'));
    expect(spec('mcp:github:*')).toBeGreaterThan(spec('mcp:github:**'));
    expect(spec('mcp:github:**')).toBeGreaterThan(spec('mcp:**'));
  });
});

describe('patternCovers on calls', () => {
  it.each([
    ['mcp:github:create_issue', 'github', 'create_issue', true],
    ['mcp:github:create_issue', 'github', 'create_issues', false],
    ['mcp:github:create_issue', 'gitlab', 'create_issue', false],
    // `*` is exactly one segment
    ['mcp:github:*', 'github', 'anything', true],
    ['mcp:github:*', 'github', 'a:b', false],
    ['mcp:*:read_file', 'fs', 'read_file', true],
    ['mcp:*:read_file', 'fs', 'write_file', false],
    ['mcp:*:*', 'x', 'y', true],
    // `**` is everything below, at least one segment
    ['mcp:github:**', 'github', 'a', true],
    ['mcp:github:**', 'github', 'a:b:c', true],
    ['mcp:github:**', 'gitlab', 'a', false],
    ['mcp:**', 'any', 'thing', true],
    ['mcp:fs:file:**', 'fs', 'file:///etc/hosts', true],
    ['mcp:fs:file:**', 'fs', 'http://x', false],
    // a literal tool named "*" is only reached by wildcards
    ['mcp:github:x', 'github', '*', false],
    ['mcp:github:*', 'github', '*', true],
  ])('%s on %s.%s → %s', (pattern, server, tool, expected) => {
    expect(patternCovers(segs(pattern), targetSegments(server, tool))).toBe(expected);
  });
});

describe('patternCovers on patterns (delegation subsets)', () => {
  it.each([
    ['mcp:github:*', 'mcp:github:create_issue', true],
    ['mcp:github:*', 'mcp:github:*', true],
    ['mcp:github:*', 'mcp:github:**', false], // wider: ** reaches a:b
    ['mcp:github:**', 'mcp:github:*', true],
    ['mcp:github:**', 'mcp:github:**', true],
    ['mcp:github:**', 'mcp:**', false],
    ['mcp:github:create_issue', 'mcp:github:*', false],
    ['mcp:*:x', 'mcp:github:x', true],
    ['mcp:github:x', 'mcp:*:x', false],
    ['mcp:**', 'mcp:**', true],
    ['mcp:**', 'mcp:*:*', true],
    ['mcp:*:**', 'mcp:**', false],
  ])('%s covers %s → %s', (parent, child, expected) => {
    expect(patternCovers(segs(parent), segs(child))).toBe(expected);
  });
});
