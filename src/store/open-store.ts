import type { DatabaseConfig } from '../config/schema.js';
import { openSqliteStore } from './sqlite.js';
import type { Store } from './store.js';

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /** Told when a pooled Postgres connection dies while idle (a server restart); the pool replaces it. */
  onPoolError?: (err: Error) => void;
}

/** Opens the store the config names; the Postgres module (and `pg`) load only when asked for. */
export async function openStore(config: DatabaseConfig, options: OpenStoreOptions = {}): Promise<Store> {
  if (config.provider === 'sqlite') return openSqliteStore(config);
  const { openPostgresStore } = await import('./postgres/store.js');
  return openPostgresStore({ ...config, onPoolError: options.onPoolError });
}
