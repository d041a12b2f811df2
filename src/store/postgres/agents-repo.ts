import { and, eq, isNull } from 'drizzle-orm';
import type { AgentsRepo } from '../agents-repo.js';
import type { PgDb } from './connect.js';
import { agents } from './schema.js';

/** Agents on Postgres, the same repository as `../agents-repo.ts` (single-row statements only). */
export function createPgAgentsRepo(db: PgDb): AgentsRepo {
  return {
    async insert(row) {
      await db.insert(agents).values(row);
    },
    async get(id) {
      const [row] = await db.select().from(agents).where(eq(agents.id, id)).limit(1);
      return row;
    },
    async findFor(userId, clientId, type) {
      const user = userId === null ? isNull(agents.userId) : eq(agents.userId, userId);
      const [row] = await db
        .select()
        .from(agents)
        .where(and(user, eq(agents.clientId, clientId), eq(agents.type, type)))
        .limit(1);
      return row;
    },
    async listByUser(userId) {
      return db.select().from(agents).where(eq(agents.userId, userId));
    },
    async setStatus(id, status) {
      await db.update(agents).set({ status }).where(eq(agents.id, id));
    },
  };
}
