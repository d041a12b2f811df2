import type { GatewayConfig } from '../config/parse-config.js';
import type { Logger } from '../logger.js';
import { createAuditWriter, type AuditWriter } from '../store/audit-writer.js';
import { createAuditRecorder } from './audit-recorder.js';
import type { CallRecorder } from './call-gate.js';

/**
 * Starts the audit writer on the gateway's SQLite file (its own connection, on a worker thread)
 * and the recorder the call gate uses. A `:memory:` database has no file a second connection
 * could share, so throw-away databases run without an audit log, and say so.
 */
export async function openAudit(
  config: GatewayConfig,
  secret: string,
  clock: () => number,
  logger: Logger,
): Promise<{ recorder: CallRecorder; writer: AuditWriter } | undefined> {
  const db = config.database;
  if (db.provider !== 'sqlite' || db.url === ':memory:') {
    logger.warn({ database: db.url }, 'audit log disabled: it needs a database file');
    return undefined;
  }
  const writer = createAuditWriter({
    file: db.url,
    secret,
    durability: config.audit.durability,
    retentionDays: config.audit.retentionDays,
    redactKeys: config.audit.redactKeys,
    onFailure: (err) => logger.error({ err: err.message }, 'audit log write failed; gated calls are refused until it recovers'),
  });
  await writer.ready();
  const recorder = createAuditRecorder({
    writer,
    storeArguments: (server) => config.agents.auditAll || (config.servers[server]?.auditArguments ?? false),
    clock,
    logger,
  });
  return { recorder, writer };
}
