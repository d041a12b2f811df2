import type { DatabaseConfig } from '../config/schema.js';
import { openSqliteStore } from './sqlite.js';
import type { Store } from './store.js';

/** Opens the store the config names; the Postgres module (and `pg`) load only when asked for. */
export async function openStore(config: DatabaseConfig): Promise<Store> {
  if (config.provider === 'sqlite') return openSqliteStore(config);
  const { openPostgresStore } = await import('./postgres/store.js');
  return openPostgresStore(config);
}
