import { and, count, eq, isNotNull, max, sql } from 'drizzle-orm';
import type { ToolPinsRepo } from '../tool-pins-repo.js';
import type { PgDb } from './connect.js';
import { toolPins } from './schema.js';

/**
 * Tool pins on Postgres, the same repository as `../tool-pins-repo.ts`. Gateways sharing the
 * database may pin or approve the same tool at once: the first pin wins through
 * `on conflict do nothing`, and an approval is one conditional update, so two approvals of one
 * pending change cannot both succeed.
 */
export function createPgToolPinsRepo(db: PgDb): ToolPinsRepo {
  const t = toolPins;
  const key = (server: string, tool: string) => and(eq(t.server, server), eq(t.tool, tool));
  const get = async (server: string, tool: string) => (await db.select().from(t).where(key(server, tool)).limit(1))[0];
  return {
    async list(server) {
      const q = db.select().from(t);
      return (server === undefined ? q : q.where(eq(t.server, server))).orderBy(t.server, t.tool);
    },
    get,
    async insertIfAbsent(row) {
      const [inserted] = await db.insert(t).values(row).onConflictDoNothing().returning();
      if (inserted) return inserted;
      const existing = await get(row.server, row.tool);
      if (!existing) throw new Error(`tool pin ${row.server}.${row.tool}: conflict on insert but no row to read`);
      return existing;
    },
    async setPending(server, tool, pending, at) {
      await db
        .update(t)
        .set({ pendingHash: pending?.hash ?? null, pendingDefinition: pending?.definition ?? null, pendingSince: pending ? at : null, updatedAt: at })
        .where(key(server, tool));
    },
    async approve(server, tool, by, at) {
      // The right-hand sides read the row as it was before this update: the pending definition
      // becomes the pin and the pending columns clear in one step.
      const [row] = await db
        .update(t)
        .set({
          hash: sql`${t.pendingHash}`,
          definition: sql`${t.pendingDefinition}`,
          pendingHash: null,
          pendingDefinition: null,
          pendingSince: null,
          approvedAt: at,
          approvedBy: by,
          updatedAt: at,
        })
        .where(and(key(server, tool), isNotNull(t.pendingHash), isNotNull(t.pendingDefinition)))
        .returning();
      return row;
    },
    async stamp() {
      const [row] = await db.select({ n: count(), at: max(t.updatedAt) }).from(t);
      return `${row?.n ?? 0}:${row?.at ?? 0}`;
    },
  };
}
