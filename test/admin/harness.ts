import { createPolicyAdmin, type PolicyAdminOptions } from '../../src/admin/policy-admin.js';
import { decideAfterRefill } from '../../src/gateway/call-gate.js';
import type { Decision, PolicyEngine, PolicyRequest } from '../../src/policy/index.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';
import { freshDatabase, type TestDatabase } from '../helpers/database.js';

/** Monday 2025-01-06 12:00 UTC, like the policy tests. */
export const T0 = Date.UTC(2025, 0, 6, 12, 0);

/** What {@link tempDatabase} resolves to. */
export interface AdminTestDatabase {
  readonly database: TestDatabase;
  /** Another connection to the database ("another process"); closed by `cleanup`. */
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}

/** A fresh database of the suite's store (a SQLite file, or a new Postgres database). */
export async function tempDatabase(): Promise<AdminTestDatabase> {
  const database = await freshDatabase();
  const stores: Store[] = [];
  return {
    database,
    async open() {
      const store = await openStore(database.config);
      stores.push(store);
      return store;
    },
    async cleanup() {
      for (const s of stores.splice(0)) await s.close();
      await database.drop();
    },
  };
}

/** A store, a settable clock and an admin service over them; ids are sequential for readable tests. */
export function adminFixture(store: Store, options: Partial<PolicyAdminOptions> = {}) {
  const clock = { now: T0 };
  let n = 0;
  const changes: { kind: string; id: string; seq: number }[] = [];
  const admin = createPolicyAdmin({
    store,
    now: () => clock.now,
    newId: (prefix) => `${prefix}_${++n}`,
    ...options,
    onChange: (c) => {
      changes.push({ kind: c.kind, id: c.id, seq: c.seq });
      options.onChange?.(c);
    },
  });
  return { admin, clock, changes };
}

/**
 * Decides as the call gate does: on a shared store (Postgres) budgets are spent from leased
 * blocks, and a call whose block is short is decided again after a refill.
 */
export async function decideAsGate(engine: PolicyEngine, request: PolicyRequest): Promise<Decision> {
  const first = engine.decide(request);
  return !first.allow && first.code === 'budget_exhausted' ? decideAfterRefill(engine, request, first) : first;
}

/** The error an async call rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string; errors: { path: string; message: string }[] }> {
  try {
    await promise;
  } catch (err) {
    return err as never;
  }
  throw new Error('expected a rejection');
}
