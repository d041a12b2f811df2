import type { Store } from '../store.js';
import { connectPostgres } from './connect.js';
import { createPgAgentsRepo } from './agents-repo.js';
import { createPgBudgetLeaseRepo } from './budget-leases.js';
import { createPgMetaRepo, createPgServerRepo, createPgSessionRepo } from './core-repos.js';
import { createPgOAuthStore } from './oauth-repo.js';
import { watchPgPolicyChanges } from './policy-listener.js';
import { createPgPolicyRepo } from './policy-repo.js';
import { createPgToolPinsRepo } from './tool-pins-repo.js';

/** Options of {@link openPostgresStore}. */
export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` */
  url: string;
  /** Leave the schema alone (`portcullis migrate` applies it). */
  skipMigrations?: boolean;
  /** Told about errors of idle pooled connections (a server restart); the pool replaces them. */
  onPoolError?: (err: Error) => void;
}

/**
 * Opens the shared store: one connection pool, migrations applied unless skipped (under an
 * advisory lock, so gateways starting together do not race). The repositories behave like the
 * SQLite ones; `close()` ends the pool.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const { pool, db, pg, url } = await connectPostgres({ url: options.url, skipMigrations: options.skipMigrations, onPoolError: options.onPoolError });
  return {
    dialect: 'postgres',
    sessions: createPgSessionRepo(db),
    servers: createPgServerRepo(db),
    meta: createPgMetaRepo(db),
    oauth: createPgOAuthStore(db),
    agents: createPgAgentsRepo(db),
    policy: createPgPolicyRepo(db),
    toolPins: createPgToolPinsRepo(db),
    shared: {
      budgetLeases: createPgBudgetLeaseRepo(db),
      watchPolicyChanges: (handlers) => watchPgPolicyChanges(pg, url, handlers),
    },
    async close() {
      await pool.end();
    },
  };
}
