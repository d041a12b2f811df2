/**
 * The pin book on its own, over a real store (the suite's: a SQLite file, or a fresh Postgres
 * database): RFC 8785 canonical hashing, trust on first use, `enforce` vs `warn`, pins that
 * survive a restart (written in the order decided, even on a pooled store), paginated lists, and
 * approvals made elsewhere picked up by the poll.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { openStore } from '../../src/store/open-store.js';
import type { AuditRecord } from '../../src/store/audit-record.js';
import type { Store } from '../../src/store/store.js';
import { canonicalJson } from '../../src/tool-pins/canonical-json.js';
import { pinOf, toolDefinitionOf } from '../../src/tool-pins/tool-definition.js';
import { diffDefinitions } from '../../src/tool-pins/definition-diff.js';
import { createPinBook, type PinBook } from '../../src/gateway/tool-pins/pin-book.js';
import type { RequestMessage, ResponseMessage } from '../../src/gateway/jsonrpc/message.js';
import { freshDatabase, type TestDatabase } from '../helpers/database.js';

const logger = createLogger('silent');
const open: Array<{ book: PinBook; store: Store }> = [];
const databases: TestDatabase[] = [];
afterEach(async () => {
  for (const { book, store } of open.splice(0)) {
    book.close();
    await store.close();
  }
  for (const d of databases.splice(0)) await d.drop();
});

/** A store on a fresh database of the suite's store, dropped after the test. */
async function freshStore(): Promise<Store> {
  const database = await freshDatabase();
  databases.push(database);
  return openStore(database.config);
}

async function book(mode: 'warn' | 'enforce', given?: Store, audit: AuditRecord[] = []) {
  const store = given ?? (await freshStore());
  const b = await createPinBook({ mode, repo: store.toolPins, audit: (r) => audit.push(r), clock: () => 1000, logger, pollMs: 20 });
  open.push({ book: b, store });
  return { book: b, store, audit };
}

const tool = (name: string, description: string, schema: object = { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] }) => ({ name, description, inputSchema: schema });
const list = (cursor?: string): RequestMessage => ({ kind: 'request', id: 1, method: 'tools/list', params: cursor === undefined ? {} : { cursor } });
const answer = (tools: object[], nextCursor?: string): ResponseMessage => ({ kind: 'response', id: 1, result: nextCursor === undefined ? { tools } : { tools, nextCursor } });
const names = (r: ResponseMessage | undefined, fallback: ResponseMessage) => ((r ?? fallback).result!.tools as { name: string }[]).map((t) => t.name);

describe('canonical definitions', () => {
  it.each([
    [{ b: 1, a: [true, null, 'x'] }, '{"a":[true,null,"x"],"b":1}'],
    [{ '\u20ac': 1, '\r': 2, a: { z: 1e21, y: 0.1 } }, '{"\\r":2,"a":{"y":0.1,"z":1e+21},"€":1}'],
    [{ a: undefined, b: 'é\u2028' }, '{"b":"é\u2028"}'],
  ])('canonicalJson(%j) = %s (RFC 8785)', (value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it('hashes only the pinned fields, whatever their key order', () => {
    const a = toolDefinitionOf({ name: 't', description: 'd', inputSchema: { type: 'object', properties: {} }, title: 'ignored', _meta: { x: 1 } });
    const b = toolDefinitionOf({ inputSchema: { properties: {}, type: 'object' }, description: 'd', name: 't' });
    expect(pinOf(a).hash).toBe(pinOf(b).hash);
    expect(pinOf(a).hash).not.toBe(pinOf({ ...b, annotations: { destructiveHint: true } }).hash);
  });

  it('diffs definitions line by line', () => {
    expect(diffDefinitions({ name: 't', description: 'old' }, { name: 't', description: 'new' })).toEqual(['  {', '-   "description": "old",', '+   "description": "new",', '    "name": "t"', '  }']);
  });
});

describe('pin book', () => {
  it('enforce: hides a changed tool and denies it; the upstream reverting clears the change', async () => {
    const { book: b, audit } = await book('enforce');
    expect(b.observeList('s', list(), answer([tool('a', 'one'), tool('b', 'two')]))).toBeUndefined();
    const changed = answer([tool('a', 'ONE!'), tool('b', 'two')]);
    expect(names(b.observeList('s', list(), changed), changed)).toEqual(['b']);
    expect(b.checkCall('s', 'a', { q: 'x' })).toMatchObject({ code: 'tool_definition_changed' });
    expect(audit.map((r) => r.kind === 'attempt' && r.reason)).toEqual(['tool_definition_changed']);
    b.observeList('s', list(), changed);
    expect(audit).toHaveLength(1); // the same change is recorded once
    expect(b.observeList('s', list(), answer([tool('a', 'one'), tool('b', 'two')]))).toBeUndefined();
    expect(b.checkCall('s', 'a', { q: 'x' })).toBeUndefined();
  });

  it('warn: lists and allows what enforce would refuse', async () => {
    const { book: b } = await book('warn');
    b.observeList('s', list(), answer([tool('a', 'one')]));
    const changed = answer([tool('a', 'ONE!')]);
    expect(b.observeList('s', list(), changed)).toBeUndefined();
    expect(b.checkCall('s', 'a', { q: 'x' })).toBeUndefined();
    expect(b.checkCall('s', 'a', { q: 1 })).toBeUndefined();
    expect(b.checkCall('s', 'nope', {})).toBeUndefined();
  });

  it('allows calls before the first list, and refuses unlisted tools only once a whole (paged) list was seen', async () => {
    const { book: b } = await book('enforce');
    expect(b.checkCall('s', 'c', {})).toBeUndefined();
    b.observeList('s', list(), answer([tool('a', 'one')], 'p2'));
    expect(b.checkCall('s', 'c', { q: 'x' })).toBeUndefined();
    b.observeList('s', list('p2'), answer([tool('c', 'three')]));
    expect(b.checkCall('s', 'c', { q: 'x' })).toBeUndefined();
    expect(b.checkCall('s', 'a', { q: 'x' })).toBeUndefined();
    expect(b.checkCall('s', 'zzz', {})).toMatchObject({ code: 'unknown_tool' });
    expect(b.checkCall('other', 'zzz', {})).toBeUndefined();
  });

  it('keeps pins across a restart and picks up an approval made elsewhere', async () => {
    const store = await freshStore();
    const first = await createPinBook({ mode: 'enforce', repo: store.toolPins, clock: () => 1, logger });
    first.observeList('s', list(), answer([tool('a', 'one')]));
    first.observeList('s', list(), answer([tool('a', 'two')]));
    first.close();
    // The book writes behind the decision; on Postgres that takes a round trip or two.
    await expect.poll(async () => (await store.toolPins.get('s', 'a'))?.pendingHash ?? null, { timeout: 2000, interval: 10 }).not.toBeNull();
    const { book: again, audit } = await book('enforce', store);
    // Restarted, no list seen yet: the stored pending change still denies, the pinned schema still checks.
    expect(again.checkCall('s', 'a', { q: 'x' })).toMatchObject({ code: 'tool_definition_changed' });
    await store.toolPins.approve('s', 'a', 'cli:test', 2);
    await expect.poll(() => again.checkCall('s', 'a', { q: 'x' }), { timeout: 2000, interval: 20 }).toBeUndefined();
    expect(again.checkCall('s', 'a', { q: 3 })).toMatchObject({ code: 'schema_violation' });
    expect(audit.filter((r) => r.kind === 'attempt').map((r) => (r as { reason?: string }).reason)).toEqual(['tool_definition_approved']);
  });

  it('compiles draft-07 and 2020-12 schemas, and lets a schema it cannot compile through', async () => {
    const { book: b } = await book('enforce');
    b.observeList('s', list(), answer([
      tool('d7', 'x', { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', properties: { n: { type: 'integer' } } }),
      tool('d20', 'x', { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { n: { type: 'integer', format: 'int32' } } }),
      tool('bad', 'x', { type: 'object', properties: { n: { $ref: '#/nowhere' } } }),
    ]));
    expect(b.checkCall('s', 'd7', { n: 1.5 })).toMatchObject({ code: 'schema_violation' });
    expect(b.checkCall('s', 'd20', { n: 'x' })).toMatchObject({ code: 'schema_violation' });
    expect(b.checkCall('s', 'd20', { n: 2 })).toBeUndefined();
    expect(b.checkCall('s', 'bad', { n: 1 })).toBeUndefined();
  });
});
