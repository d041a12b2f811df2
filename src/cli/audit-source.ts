import { existsSync } from 'node:fs';
import type { GatewayConfig } from '../config/parse-config.js';
import { openAuditReader, type AuditReader } from '../store/audit-reader.js';
import { openStore } from '../store/open-store.js';
import { CliError, loadCliConfig } from './command.js';

/**
 * Where the `portcullis audit …` commands read from: the audit log lives in the gateway's own
 * database (`database` of the config), SQLite file or Postgres, next to everything else the
 * gateway stores. The commands only read (or, for retention, delete a prefix as the writer
 * would), through the dialect's {@link AuditReader}, so they are safe beside running gateways:
 * SQLite WAL readers and Postgres snapshots never see half a batch.
 */
export interface AuditSource {
  readonly config: GatewayConfig;
  readonly reader: AuditReader;
}

/** The config named by `--config` and a reader of its database; refuses configs without one. */
export async function loadAuditSource(configFlag: string | undefined): Promise<AuditSource> {
  const config = await loadCliConfig(configFlag);
  const db = config.database;
  if (db.provider === 'sqlite') {
    if (db.url === ':memory:') throw new CliError('database.url is ":memory:": such a gateway keeps no audit log to read', 1);
    if (!existsSync(db.url)) throw new CliError(`no database at ${db.url} (has the gateway been started with this config?)`, 1);
  }
  return { config, reader: await openAuditReader(db) };
}

/** Fails with a clear message unless the database holds an audit log; a store error is the user's to see, not a crash. */
export async function requireAuditLog(source: AuditSource): Promise<void> {
  let present: boolean;
  try {
    present = await source.reader.hasLog();
  } catch (err) {
    throw new CliError(`cannot read the audit log in ${source.reader.location}: ${(err as Error).message}`, 1);
  }
  if (!present) throw new CliError(`${source.reader.location} has no audit log yet (it is created when the gateway starts)`, 1);
}

/**
 * The secret the gateway signs audit checkpoints with: `secret` from the config or, when the
 * config has none, the one the gateway generated at its first start and keeps in the store's
 * `meta` table — read through the store exactly as `gateway/create-gateway.ts` does, never
 * created here (a verifier that invented a secret would report every checkpoint as forged).
 */
export async function readAuditSecret(source: AuditSource): Promise<string> {
  if (source.config.secret !== undefined) return source.config.secret;
  const where = source.reader.location;
  let secret: string | undefined;
  try {
    // No migrations: reading must not change the schema under a running gateway.
    const store = await openStore({ ...source.config.database, skipMigrations: true });
    try {
      secret = await store.meta.get('secret');
    } finally {
      await store.close();
    }
  } catch (err) {
    throw new CliError(`cannot read the gateway secret from ${where}: ${(err as Error).message}`, 1);
  }
  if (secret === undefined) throw new CliError(`no secret: the config sets none and ${where} holds no generated one`, 1);
  return secret;
}
