import type { GatewayConfig } from '../config/parse-config.js';
import type { Logger } from '../logger.js';
import type { PortcullisError } from '../errors.js';
import { openAuditReader, type AuditReader } from '../store/audit-reader.js';
import { createAuditWriter, type AuditWriter } from '../store/audit-writer.js';
import { createAuditRecorder } from './audit-recorder.js';
import type { CallRecorder } from './call-gate.js';

/** Never below this, whatever the timeouts: room for clock skew between instances and a brief store outage. */
const MIN_ORPHAN_AGE_MS = 15 * 60_000;

/**
 * Starts the audit writer on the gateway's database and the recorder the call gate uses, plus
 * the reader the admin routes use. SQLite: the writer has its own connection to the file, on a
 * worker thread; a `:memory:` database has no file a second connection could share, so
 * throw-away databases run without an audit log, and say so. Postgres: the writer has a pool of
 * its own, and every gateway instance on the database extends the same chain.
 */
export async function openAudit(
  config: GatewayConfig,
  secret: string,
  clock: () => number,
  logger: Logger,
): Promise<{ recorder: CallRecorder; writer: AuditWriter; reader: AuditReader } | undefined> {
  const db = config.database;
  if (db.provider === 'sqlite' && db.url === ':memory:') {
    logger.warn({ database: db.url }, 'audit log disabled: it needs a database file');
    return undefined;
  }
  const common = {
    secret,
    durability: config.audit.durability,
    retentionDays: config.audit.retentionDays,
    redactKeys: config.audit.redactKeys,
    onFailure: (err: PortcullisError) => logger.error({ err: err.message }, 'audit log write failed; gated calls are refused until it recovers'),
  };
  let writer: AuditWriter;
  if (db.provider === 'postgres') {
    const { createPostgresAuditWriter } = await import('../store/postgres/audit-writer.js');
    // Every call ends within its server's timeoutMs, when its outcome is appended; an attempt
    // twice that old without one belongs to no live instance (see store/postgres/audit-recover.ts).
    const longestCall = Math.max(0, ...Object.values(config.servers).map((s) => s.timeoutMs));
    writer = createPostgresAuditWriter({ ...common, url: db.url, skipMigrations: db.skipMigrations, orphanAfterMs: Math.max(MIN_ORPHAN_AGE_MS, 2 * longestCall) });
  } else {
    writer = createAuditWriter({ ...common, file: db.url });
  }
  try {
    await writer.ready();
  } catch (err) {
    await writer.close();
    throw err;
  }
  const recorder = createAuditRecorder({
    writer,
    storeArguments: (server) => config.agents.auditAll || (config.servers[server]?.auditArguments ?? false),
    clock,
    logger,
  });
  return { recorder, writer, reader: await openAuditReader(db) };
}
