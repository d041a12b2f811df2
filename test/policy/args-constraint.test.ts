import { describe, expect, it } from 'vitest';
import { checkArgs, compileArgsConstraint, parseJsonPointer, resolveJsonPointer, MISSING, type ArgRuleInput } from '../../src/policy/index.js';

function check(rules: Record<string, ArgRuleInput>, args: unknown): string | undefined {
  const c = compileArgsConstraint(rules);
  if (!c.ok) throw new Error(JSON.stringify(c.errors));
  return checkArgs(c.constraint, args);
}

describe('JSON pointers (RFC 6901)', () => {
  const doc = { a: { b: [10, { c: 'x' }] }, 'x/y': 1, 'm~n': 2, '': 3, ' ': 4 };
  it.each([
    ['', doc],
    ['/a/b/0', 10],
    ['/a/b/1/c', 'x'],
    ['/x~1y', 1],
    ['/m~0n', 2],
    ['/', 3],
    ['/ ', 4],
    ['/a/b/2', MISSING],
    ['/a/b/01', MISSING],
    ['/a/b/-', MISSING],
    ['/a/missing', MISSING],
    ['/a/b/1/c/d', MISSING],
    ['/__proto__', MISSING],
    ['/constructor', MISSING],
    ['/a/toString', MISSING],
  ])('%j resolves to %j', (pointer, expected) => {
    const p = parseJsonPointer(pointer);
    expect(p.ok).toBe(true);
    if (p.ok) expect(resolveJsonPointer(doc, p.tokens)).toBe(expected);
  });

  it('unescapes ~1 before ~0, so ~01 is "~1" not "/"', () => {
    expect(parseJsonPointer('/~01')).toEqual({ ok: true, tokens: ['~1'] });
  });

  it.each(['a/b', '/a~2', '/a~'])('refuses %j', (pointer) => expect(parseJsonPointer(pointer).ok).toBe(false));
});

describe('argument rules', () => {
  it.each<[string, Record<string, ArgRuleInput>, unknown, string | undefined]>([
    ['equals string ok', { '/repo': { equals: 'acme/web' } }, { repo: 'acme/web' }, undefined],
    ['equals string bad', { '/repo': { equals: 'acme/web' } }, { repo: 'acme/api' }, 'argument /repo is not the allowed value'],
    ['equals object ignores key order', { '/o': { equals: { a: 1, b: [1, 2] } } }, { o: { b: [1, 2], a: 1 } }, undefined],
    ['equals object vs JSON string', { '/o': { equals: { a: 1 } } }, { o: '{"a":1}' }, 'not the allowed value'],
    ['equals number is not string', { '/n': { equals: 1 } }, { n: '1' }, 'not the allowed value'],
    ['oneOf ok', { '/env': { oneOf: ['dev', 'staging'] } }, { env: 'dev' }, undefined],
    ['oneOf bad', { '/env': { oneOf: ['dev', 'staging'] } }, { env: 'prod' }, 'argument /env is not one of the allowed values'],
    ['oneOf objects', { '/o': { oneOf: [{ k: 1 }, null] } }, { o: null }, undefined],
    ['pattern ok', { '/repo': { pattern: 'acme/[a-z-]+' } }, { repo: 'acme/web-app' }, undefined],
    ['pattern is anchored', { '/repo': { pattern: 'acme/[a-z-]+' } }, { repo: 'evil/acme/web' }, 'does not match pattern'],
    ['pattern needs a string', { '/repo': { pattern: '.*' } }, { repo: 5 }, 'does not match pattern'],
    ['min ok', { '/n': { min: 1 } }, { n: 1 }, undefined],
    ['min bad', { '/n': { min: 1 } }, { n: 0.5 }, 'argument /n is below 1'],
    ['max ok', { '/n': { max: 10 } }, { n: 10 }, undefined],
    ['max bad', { '/n': { max: 10 } }, { n: 11 }, 'argument /n is above 10'],
    ['min/max need a number', { '/n': { min: 0, max: 10 } }, { n: '5' }, 'argument /n is not a number'],
    ['maxLength string ok', { '/s': { maxLength: 3 } }, { s: 'abc' }, undefined],
    ['maxLength string bad', { '/s': { maxLength: 3 } }, { s: 'abcd' }, 'longer than 3'],
    ['maxLength array', { '/l': { maxLength: 2 } }, { l: [1, 2, 3] }, 'longer than 2'],
    ['maxLength on a number', { '/l': { maxLength: 2 } }, { l: 5 }, 'has no length'],
    ['missing field fails', { '/repo': { equals: 'x' } }, {}, 'argument /repo is missing'],
    ['missing arguments fail', { '/repo': { equals: 'x' } }, undefined, 'is missing'],
    ['nested path', { '/options/target/branch': { oneOf: ['main'] } }, { options: { target: { branch: 'main' } } }, undefined],
    ['nested array index', { '/files/0/path': { pattern: 'docs/.*' } }, { files: [{ path: 'docs/a.md' }] }, undefined],
    ['nested array index bad', { '/files/1/path': { pattern: 'docs/.*' } }, { files: [{ path: 'docs/a.md' }] }, 'is missing'],
    ['~1 escape', { '/headers/content~1type': { equals: 'json' } }, { headers: { 'content/type': 'json' } }, undefined],
    ['~0 escape', { '/a~0b': { equals: 1 } }, { 'a~b': 1 }, undefined],
    ['all rules on one pointer must hold', { '/n': { min: 0, max: 5, oneOf: [1, 7] } }, { n: 7 }, 'above 5'],
    ['every pointer must hold', { '/a': { equals: 1 }, '/b': { equals: 2 } }, { a: 1, b: 3 }, 'argument /b'],
    ['inherited properties are not arguments', { '/toString': { maxLength: 1000 } }, {}, 'is missing'],
  ])('%s', (_name, rules, args, expected) => {
    const result = check(rules, args);
    if (expected === undefined) expect(result).toBeUndefined();
    else expect(result).toContain(expected);
  });

  it('never echoes the argument value', () => {
    expect(check({ '/secret': { equals: 'x' } }, { secret: 'hunter2' })).not.toContain('hunter2');
  });

  it('matches in linear time where a backtracking engine would not', () => {
    const started = performance.now();
    expect(check({ '/s': { pattern: '(a+)+b' } }, { s: `${'a'.repeat(50_000)}c` })).toContain('does not match');
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
