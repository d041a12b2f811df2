import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPolicyAdmin, type PolicyAdminOptions } from '../../src/admin/policy-admin.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';

/** Monday 2025-01-06 12:00 UTC, like the policy tests. */
export const T0 = Date.UTC(2025, 0, 6, 12, 0);

/** A temp dir with a real SQLite file; `open()` gives another connection to it ("another process"). */
export function tempDatabase() {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-admin-'));
  const file = join(dir, 'policy.db');
  const stores: Store[] = [];
  return {
    dir,
    file,
    open(): Store {
      const store = openSqliteStore({ url: file });
      stores.push(store);
      return store;
    },
    async cleanup() {
      for (const s of stores.splice(0)) await s.close();
      rmSync(dir, { recursive: true, force: true });
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

/** The error an async call rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string; errors: { path: string; message: string }[] }> {
  try {
    await promise;
  } catch (err) {
    return err as never;
  }
  throw new Error('expected a rejection');
}
