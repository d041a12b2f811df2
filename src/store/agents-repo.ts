import { and, eq, isNull } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { agents } from './schema-agents.js';

export type AgentType = 'interactive' | 'autonomous' | 'delegated';
export type AgentStatus = 'active' | 'suspended' | 'revoked';

export interface AgentRow {
  id: string;
  userId: string | null;
  clientId: string;
  tenant: string | null;
  name: string;
  type: AgentType;
  status: AgentStatus;
  expiresAt: number | null;
  createdAt: number;
}

/** Agents as the rest of the gateway sees them (see `schema-agents.ts`). */
export interface AgentsRepo {
  insert(row: AgentRow): Promise<void>;
  get(id: string): Promise<AgentRow | undefined>;
  /** The agent of this type for (user, client), whatever its status; `userId` null = machine agent. */
  findFor(userId: string | null, clientId: string, type: AgentType): Promise<AgentRow | undefined>;
  listByUser(userId: string): Promise<AgentRow[]>;
  setStatus(id: string, status: AgentStatus): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = BetterSQLite3Database<any>;

/** The SQLite implementation, on the gateway's drizzle database. */
export function createSqliteAgentsRepo(db: AnyDb): AgentsRepo {
  return {
    async insert(row) {
      db.insert(agents).values(row).run();
    },
    async get(id) {
      return db.select().from(agents).where(eq(agents.id, id)).get();
    },
    async findFor(userId, clientId, type) {
      const user = userId === null ? isNull(agents.userId) : eq(agents.userId, userId);
      return db
        .select()
        .from(agents)
        .where(and(user, eq(agents.clientId, clientId), eq(agents.type, type)))
        .get();
    },
    async listByUser(userId) {
      return db.select().from(agents).where(eq(agents.userId, userId)).all();
    },
    async setStatus(id, status) {
      db.update(agents).set({ status }).where(eq(agents.id, id)).run();
    },
  };
}
