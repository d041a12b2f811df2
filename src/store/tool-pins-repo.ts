import { and, count, eq, max } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { toolPins } from './schema-tools.js';

/** One stored pin (see `schema-tools.ts`). */
export type ToolPinRow = typeof toolPins.$inferSelect;

/** Tool pins as the gateway and the CLI see them. */
export interface ToolPinsRepo {
  list(server?: string): Promise<ToolPinRow[]>;
  get(server: string, tool: string): Promise<ToolPinRow | undefined>;
  /** Pins a tool seen for the first time; an existing pin wins (another instance got there first). */
  insertIfAbsent(row: Omit<ToolPinRow, 'pendingHash' | 'pendingDefinition' | 'pendingSince'>): Promise<ToolPinRow>;
  /** Records a served definition that differs from the pin (null clears it: the upstream reverted). */
  setPending(server: string, tool: string, pending: { hash: string; definition: string } | null, at: number): Promise<void>;
  /** Makes the pending definition the pin; undefined when there is nothing pending. */
  approve(server: string, tool: string, by: string, at: number): Promise<ToolPinRow | undefined>;
  /** Changes whenever any pin does: a cheap reload check (`count:max(updated_at)`). */
  stamp(): Promise<string>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = BetterSQLite3Database<any>;

/** The SQLite implementation, on the gateway's drizzle database. */
export function createSqliteToolPinsRepo(db: AnyDb): ToolPinsRepo {
  const t = toolPins;
  const key = (server: string, tool: string) => and(eq(t.server, server), eq(t.tool, tool));
  const get = (server: string, tool: string) => db.select().from(t).where(key(server, tool)).get();
  return {
    async list(server) {
      const q = db.select().from(t);
      return (server === undefined ? q : q.where(eq(t.server, server))).orderBy(t.server, t.tool).all();
    },
    async get(server, tool) {
      return get(server, tool);
    },
    async insertIfAbsent(row) {
      db.insert(t).values(row).onConflictDoNothing().run();
      return get(row.server, row.tool)!;
    },
    async setPending(server, tool, pending, at) {
      db.update(t)
        .set({ pendingHash: pending?.hash ?? null, pendingDefinition: pending?.definition ?? null, pendingSince: pending ? at : null, updatedAt: at })
        .where(key(server, tool))
        .run();
    },
    async approve(server, tool, by, at) {
      return db.transaction((tx) => {
        const row = tx.select().from(t).where(key(server, tool)).get();
        if (!row || row.pendingHash === null || row.pendingDefinition === null) return undefined;
        const approved = { hash: row.pendingHash, definition: row.pendingDefinition, pendingHash: null, pendingDefinition: null, pendingSince: null, approvedAt: at, approvedBy: by, updatedAt: at };
        tx.update(t).set(approved).where(key(server, tool)).run();
        return { ...row, ...approved };
      });
    },
    async stamp() {
      const row = db.select({ n: count(), at: max(t.updatedAt) }).from(t).get();
      return `${row?.n ?? 0}:${row?.at ?? 0}`;
    },
  };
}
