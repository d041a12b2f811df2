/**
 * Sessions, servers, meta, agents and tool pins on the suite's store (a SQLite file, or a fresh
 * Postgres database): the semantics callers rely on whatever the dialect. Two stores opened on one
 * database stand in for two gateway processes: the first writer of a meta key or a tool pin wins
 * for both, a session's last-seen time only moves forward, and a pending pin change is approved
 * once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';
import type { SessionRow, Store } from '../../src/store/store.js';
import { freshDatabase, TEST_STORE, type TestDatabase } from '../helpers/database.js';

let database: TestDatabase;
let one: Store;
let two: Store;

beforeEach(async () => {
  database = await freshDatabase();
  one = await openStore(database.config);
  two = await openStore(database.config);
});
afterEach(async () => {
  await one?.close();
  await two?.close();
  await database?.drop();
});

const session = (idHash: string, lastSeenAt: number): SessionRow => ({
  idHash,
  server: 'docs',
  principal: 'alice',
  protocolVersion: '2025-06-18',
  initParams: '{"capabilities":{}}',
  upstreamSessionId: null,
  createdAt: 1,
  lastSeenAt,
});

describe(`core repositories on ${TEST_STORE}`, () => {
  it('opens the dialect the config names', () => {
    expect(one.dialect).toBe(TEST_STORE);
  });

  it('meta: the first writer wins, for every process, even when they race', async () => {
    const values = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? one : two).meta.setIfAbsent('secret', `v${i}`)));
    expect(new Set(values).size).toBe(1);
    expect(await one.meta.get('secret')).toBe(values[0]);
    expect(await two.meta.setIfAbsent('secret', 'later')).toBe(values[0]);
    expect(await one.meta.get('absent')).toBeUndefined();
  });

  it('sessions: insert, read from another process, touch only forward, idle sweep', async () => {
    await one.sessions.insert(session('s1', 100));
    await one.sessions.insert(session('s2', 500));
    expect(await two.sessions.get('s1')).toEqual(session('s1', 100));
    await two.sessions.setUpstreamSession('s1', 'up-1');
    expect((await one.sessions.get('s1'))?.upstreamSessionId).toBe('up-1');

    await Promise.all([one.sessions.touch('s1', 300), two.sessions.touch('s1', 200)]);
    expect((await one.sessions.get('s1'))?.lastSeenAt).toBe(300);
    await two.sessions.touch('s1', 250);
    expect((await one.sessions.get('s1'))?.lastSeenAt).toBe(300);

    expect(await one.sessions.count()).toBe(2);
    expect(await two.sessions.deleteIdle(400)).toEqual(['s1']);
    expect(await one.sessions.get('s1')).toBeUndefined();
    await one.sessions.delete('s2');
    expect(await two.sessions.count()).toBe(0);
  });

  it('servers: an upsert refreshes the registration and keeps the learned era', async () => {
    await one.servers.upsert({ name: 'docs', transport: 'http', target: 'http://a', era: null, updatedAt: 1 });
    await one.servers.setEra('docs', 'legacy');
    await two.servers.upsert({ name: 'docs', transport: 'http', target: 'http://b', era: null, updatedAt: 2 });
    expect(await one.servers.list()).toEqual([{ name: 'docs', transport: 'http', target: 'http://b', era: 'legacy', updatedAt: 2 }]);
  });

  it('agents: found by user, client and type (null user = machine agent), status changes', async () => {
    const base = { clientId: 'c1', tenant: null, name: 'bot', status: 'active' as const, expiresAt: null, createdAt: 1 };
    await one.agents.insert({ ...base, id: 'a1', userId: 'alice', type: 'interactive' });
    await one.agents.insert({ ...base, id: 'a2', userId: null, type: 'autonomous' });
    expect((await two.agents.findFor('alice', 'c1', 'interactive'))?.id).toBe('a1');
    expect((await two.agents.findFor(null, 'c1', 'autonomous'))?.id).toBe('a2');
    expect(await two.agents.findFor(null, 'c1', 'interactive')).toBeUndefined();
    await two.agents.setStatus('a1', 'suspended');
    expect(await one.agents.get('a1')).toMatchObject({ status: 'suspended', expiresAt: null, createdAt: 1 });
    expect((await one.agents.listByUser('alice')).map((a) => a.id)).toEqual(['a1']);
  });

  it('tool pins: the first pin wins a race, a pending change is approved exactly once', async () => {
    const pin = { server: 'docs', tool: 'search', definition: '{"name":"search"}', approvedAt: 1, approvedBy: 'first-seen', updatedAt: 1 };
    const pins = await Promise.all([one.toolPins.insertIfAbsent({ ...pin, hash: 'h-one' }), two.toolPins.insertIfAbsent({ ...pin, hash: 'h-two' })]);
    expect(pins[0]).toEqual(pins[1]);
    expect(pins[0]).toMatchObject({ pendingHash: null, pendingDefinition: null, pendingSince: null });
    expect(await one.toolPins.approve('docs', 'search', 'cli:x', 2)).toBeUndefined();

    await one.toolPins.setPending('docs', 'search', { hash: 'h-new', definition: '{"name":"search","description":"new"}' }, 3);
    const stamp = await two.toolPins.stamp();
    const approvals = await Promise.all([one.toolPins.approve('docs', 'search', 'cli:a', 4), two.toolPins.approve('docs', 'search', 'cli:b', 4)]);
    const approved = approvals.filter((a) => a !== undefined);
    expect(approved).toHaveLength(1);
    expect(approved[0]).toMatchObject({ hash: 'h-new', definition: '{"name":"search","description":"new"}', pendingHash: null, pendingSince: null, approvedAt: 4 });
    expect(await two.toolPins.get('docs', 'search')).toEqual(approved[0]);
    expect(await two.toolPins.stamp()).not.toBe(stamp);

    await two.toolPins.insertIfAbsent({ ...pin, server: 'alpha', hash: 'h-a' });
    expect((await one.toolPins.list()).map((p) => `${p.server}.${p.tool}`)).toEqual(['alpha.search', 'docs.search']);
    expect((await one.toolPins.list('docs')).map((p) => p.hash)).toEqual(['h-new']);
  });
});
