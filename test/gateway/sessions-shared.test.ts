/**
 * Sessions on a store shared by several instances (Postgres): two registries on one database
 * stand in for two gateway processes. One instance must never end a session that is busy on the
 * other, and a session ended on one is refused on the other once its recheck is due.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { openPostgresStore } from '../../src/store/postgres/store.js';
import type { Store } from '../../src/store/store.js';
import { SessionRegistry } from '../../src/gateway/sessions.js';
import { freshPostgresDatabase, PG_URL, type TestDatabase } from '../helpers/database.js';

const IDLE = 60_000;

describe.skipIf(!PG_URL)('sessions on a shared store', () => {
  let db: TestDatabase;
  const stores: Store[] = [];
  const clock = { now: 1_000_000 };
  const registries: SessionRegistry[] = [];

  async function instance(): Promise<SessionRegistry> {
    const store = await openPostgresStore({ url: db.url });
    stores.push(store);
    const registry = new SessionRegistry({ store, clock: () => clock.now, idleTimeoutMs: IDLE, maxSessions: 100, logger: createLogger('silent'), recheckMs: 1_000 });
    registries.push(registry);
    return registry;
  }

  beforeAll(async () => {
    db = await freshPostgresDatabase();
  });
  afterAll(async () => {
    for (const r of registries) await r.close();
    for (const s of stores) await s.close();
    await db?.drop();
  });

  const open = (r: SessionRegistry) => r.create({ server: 'docs', principal: 'alice', protocolVersion: '2025-11-25', initParams: {}, upstreamSessionId: null });

  it("an idle copy on one instance is dropped, not ended, while the session is busy on the other", async () => {
    const a = await instance();
    const b = await instance();
    const session = await open(a);
    expect(await b.find(session.id, 'docs', 'alice')).toBeDefined(); // B served it once
    let released = 0;
    (await b.find(session.id, 'docs', 'alice'))!.onEnd = async () => void (released += 1);

    // Only A serves it from now on, and flushes what it saw.
    clock.now += IDLE / 2;
    expect(await a.find(session.id, 'docs', 'alice')).toBeDefined();
    await a.sweep();
    clock.now += IDLE / 2 + 1;
    expect(await a.find(session.id, 'docs', 'alice')).toBeDefined();
    await a.sweep();

    // B's copy looks idle; the row says otherwise: B lets go of its copy, the session lives on.
    await b.sweep();
    expect(released).toBe(1);
    expect(b.size).toBe(0);
    expect(await stores[0].sessions.get(session.idHash)).toBeDefined();
    expect(await a.find(session.id, 'docs', 'alice')).toBeDefined();
    // B serves it again from the row.
    expect(await b.find(session.id, 'docs', 'alice')).toBeDefined();
  });

  it('a session ended on one instance is refused on the other once its recheck is due, and only then', async () => {
    const a = await instance();
    const b = await instance();
    const session = await open(a);
    expect(await b.find(session.id, 'docs', 'alice')).toBeDefined();
    await b.end((await b.find(session.id, 'docs', 'alice'))!);

    clock.now += 500; // within the recheck bound A still trusts its copy
    expect(await a.find(session.id, 'docs', 'alice')).toBeDefined();
    clock.now += 600;
    expect(await a.find(session.id, 'docs', 'alice')).toBeUndefined();
    expect(a.size).toBe(0);
  });
});
