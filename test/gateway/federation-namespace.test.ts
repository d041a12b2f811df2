/**
 * The naming and paging rules of the aggregated endpoint: prefixed names and
 * their way back, the spec's name rule, overlapping prefixes and unprefixed collisions reported
 * with the fix, namespaced URIs and templates, and the opaque merged cursor.
 */
import { describe, expect, it } from 'vitest';
import { compileNamespace, type Namespace } from '../../src/gateway/federation/namespace.js';
import { decodeMergedCursor, encodeMergedCursor } from '../../src/gateway/federation/merged-cursor.js';

function ns(entries: Parameters<typeof compileNamespace>[0], sep?: string): Namespace {
  const r = compileNamespace(entries, sep);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.namespace;
}

describe('federation namespace', () => {
  const n = ns([{ server: 'github' }, { server: 'docs', prefix: 'd' }, { server: 'local', prefix: false }]);

  it.each([
    ['github', 'create_issue', 'github__create_issue'],
    ['docs', 'search', 'd__search'],
    ['local', 'echo', 'echo'],
  ])('%s.%s is exposed as %s and resolves back', (server, name, exposed) => {
    expect(n.expose(server, name)).toEqual({ ok: true, name: exposed });
    if (server !== 'local') expect(n.resolve(exposed)).toEqual({ server, name });
  });

  it('refuses names outside 1–128 [A-Za-z0-9_.-], naming the fix', () => {
    const long = n.expose('github', 'x'.repeat(121));
    expect(long).toMatchObject({ ok: false });
    expect(!long.ok && long.error).toContain('129 characters');
    expect(!long.ok && long.error).toContain('servers.github.prefix');
    expect(n.expose('github', 'has space')).toMatchObject({ ok: false });
    expect(n.expose('local', 'github__sneaky')).toMatchObject({ ok: false });
  });

  it.each([
    [[{ server: 'a' }, { server: 'a__b' }], 'overlap'],
    [[{ server: 'a', prefix: 'x' }, { server: 'b', prefix: 'x' }], 'overlap'],
    [[{ server: 'a', prefix: 'bad prefix' }], 'servers.a.prefix'],
    [[{ server: 'a' }], 'federation.separator'],
  ])('refuses %j at start-up', (entries, message) => {
    const r = compileNamespace(entries, message === 'federation.separator' ? '::' : '__');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors.join('\n')).toContain(message);
  });

  it('reports unprefixed collisions with the fix', () => {
    const m = ns([{ server: 'one', prefix: false }, { server: 'two', prefix: false }, { server: 'three' }]);
    expect(m.collisions(new Map([['one', ['search', 'a']], ['two', ['search']], ['three', ['search']]]))).toEqual([
      '"search" is offered by both one and two; remove "prefix: false" from servers.two (or give it a prefix)',
    ]);
  });

  it('namespaces resource URIs and templates reversibly', () => {
    expect(n.exposeUri('docs', 'file:///readme')).toBe('docs+file:///readme');
    expect(n.resolveUri('docs+notes://{id}')).toEqual({ server: 'docs', uri: 'notes://{id}' });
    expect(n.resolveUri('nobody+file:///x')).toBeUndefined();
    expect(n.resolveUri('file:///x')).toBeUndefined();
  });
});

describe('merged cursor', () => {
  const servers = ['a', 'b', 'c'];
  it('starts with every upstream and carries on with those that have more', () => {
    expect(decodeMergedCursor(undefined, servers)).toEqual(new Map([['a', undefined], ['b', undefined], ['c', undefined]]));
    const next = encodeMergedCursor(new Map([['b', 'p2']]))!;
    expect(decodeMergedCursor(next, servers)).toEqual(new Map([['b', 'p2']]));
    expect(encodeMergedCursor(new Map())).toBeUndefined();
  });

  it.each(['', 'not-base64!', encodeMergedCursor(new Map([['zzz', 'x']]))!, Buffer.from('[0,1]').toString('base64url'), Buffer.from('{"a":1}').toString('base64url')])(
    'rejects the bad cursor %j',
    (cursor) => expect(decodeMergedCursor(cursor, servers)).toBeUndefined(),
  );
});
