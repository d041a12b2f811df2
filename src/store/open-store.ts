import type { DatabaseConfig } from '../config/schema.js';
import { PortcullisError } from '../errors.js';
import { openSqliteStore } from './sqlite.js';
import type { Store } from './store.js';

/** Opens the store the config names. */
export async function openStore(config: DatabaseConfig): Promise<Store> {
  if (config.provider === 'sqlite') return openSqliteStore(config);
  throw new PortcullisError('CONFIG_INVALID', 'database.provider: "postgres" is not available in this release yet');
}
