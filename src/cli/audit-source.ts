import { existsSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type { GatewayConfig } from '../config/parse-config.js';
import { openAuditDb } from '../store/audit-db.js';
import { openStore } from '../store/open-store.js';
import { CliError, loadCliConfig } from './command.js';

/**
 * Where the `portcullis audit …` commands read from: the audit log lives in the gateway's own
 * SQLite file (`database.url` of the config), next to everything else the gateway stores. The
 * commands only ever read, on read-only connections, so they are safe beside a running gateway:
 * WAL readers neither block the audit writer nor see half a batch.
 */
export interface AuditSource {
  readonly config: GatewayConfig;
  /** The database file. */
  readonly file: string;
}

/** The config named by `--config` and its database file; refuses configs without one. */
export async function loadAuditSource(configFlag: string | undefined): Promise<AuditSource> {
  const config = await loadCliConfig(configFlag);
  const db = config.database;
  if (db.provider !== 'sqlite') throw new CliError(`the audit log is kept in a SQLite database; database.provider is "${db.provider}"`, 1);
  if (db.url === ':memory:') throw new CliError('database.url is ":memory:": such a gateway keeps no audit log to read', 1);
  if (!existsSync(db.url)) throw new CliError(`no database at ${db.url} (has the gateway been started with this config?)`, 1);
  return { config, file: db.url };
}

/** A read-only connection to the audit log; a file without one is the user's error, not a crash. */
export function openAuditReader(source: AuditSource): Database.Database {
  let db: Database.Database;
  try {
    db = openAuditDb(source.file, { readonly: true });
  } catch (err) {
    throw new CliError(`cannot open ${source.file}: ${(err as Error).message}`, 1);
  }
  try {
    db.prepare('SELECT 1 FROM audit_log LIMIT 1').get();
  } catch (err) {
    db.close();
    const message = (err as Error).message;
    if (/no such table/.test(message)) throw new CliError(`${source.file} has no audit log yet (it is created when the gateway starts)`, 1);
    throw new CliError(`cannot read the audit log in ${source.file}: ${message}`, 1);
  }
  return db;
}

/**
 * The secret the gateway signs audit checkpoints with: `secret` from the config or, when the
 * config has none, the one the gateway generated at its first start and keeps in the store's
 * `meta` table — read through the store exactly as `gateway/create-gateway.ts` does, never
 * created here (a verifier that invented a secret would report every checkpoint as forged).
 */
export async function readAuditSecret(source: AuditSource): Promise<string> {
  if (source.config.secret !== undefined) return source.config.secret;
  let secret: string | undefined;
  try {
    // No migrations: reading must not change the file's schema under a running gateway.
    const store = await openStore({ ...source.config.database, skipMigrations: true });
    try {
      secret = await store.meta.get('secret');
    } finally {
      await store.close();
    }
  } catch (err) {
    throw new CliError(`cannot read the gateway secret from ${source.file}: ${(err as Error).message}`, 1);
  }
  if (secret === undefined) throw new CliError(`no secret: the config sets none and ${source.file} holds no generated one`, 1);
  return secret;
}
