/** Options of the Postgres audit writer and their start-up validation (see `audit-writer.ts`). */
import { DEFAULT_REDACT_KEYS } from '../audit-args.js';
import { checkCommonWriterOptions, compileQueueOptions, positiveInt, type AuditWriterOptions, type WriterQueueConfig } from '../audit-writer-options.js';

/** Options of {@link createPostgresAuditWriter}: the SQLite writer's, with a URL for the file. */
export interface PostgresAuditWriterOptions extends Omit<AuditWriterOptions, 'file'> {
  /** `postgres://…`: the gateway's database (the writer opens a small pool of its own). */
  url: string;
  /**
   * `process` (default): commits are as durable as the server's `synchronous_commit` makes them.
   * `power`: every batch sets `synchronous_commit = on`, so a resolved append is fsynced on the
   * server even where the server's default is weaker.
   */
  durability?: AuditWriterOptions['durability'];
  /** How long a batch waits for another instance's chain lock before failing. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** Client-side bound on each statement; a dead network fails the batch instead of hanging it. Default 15 000 ms. */
  queryTimeoutMs?: number;
  /**
   * An allowed attempt older than this without an outcome is orphaned (see `audit-recover.ts`
   * for why this bound, not "every open attempt", is the rule on a shared database). Default 15 min.
   */
  orphanAfterMs?: number;
  /** How often a running writer sweeps for orphans. Default 60 000 ms. */
  recoverIntervalMs?: number;
}

/** The validated form. */
export interface PgWriterConfig extends WriterQueueConfig {
  url: string;
  secret: string;
  redactKeys: readonly string[];
  forceSyncCommit: boolean;
  lockTimeoutMs: number;
  queryTimeoutMs: number;
  checkpointEvery: number;
  checkpointMs: number;
  skipMigrations: boolean;
  retentionDays: number | null;
  pruneIntervalMs: number;
  orphanAfterMs: number;
  recoverIntervalMs: number;
}

/** Validates the options at construction, naming the bad one. */
export function compilePgWriterOptions(o: PostgresAuditWriterOptions): PgWriterConfig {
  if (typeof o.url !== 'string' || !/^postgres(ql)?:\/\//.test(o.url)) {
    throw new TypeError('audit writer: url must be a postgres:// URL');
  }
  const durability = checkCommonWriterOptions(o);
  return {
    url: o.url,
    secret: o.secret,
    redactKeys: [...(o.redactKeys ?? DEFAULT_REDACT_KEYS)],
    forceSyncCommit: durability === 'power',
    lockTimeoutMs: positiveInt(o.busyTimeoutMs, 5000, 'busyTimeoutMs'),
    queryTimeoutMs: positiveInt(o.queryTimeoutMs, 15_000, 'queryTimeoutMs'),
    checkpointEvery: positiveInt(o.checkpointEvery, 1000, 'checkpointEvery'),
    checkpointMs: positiveInt(o.checkpointMs, 5000, 'checkpointMs'),
    ...compileQueueOptions(o),
    skipMigrations: o.skipMigrations ?? false,
    retentionDays: o.retentionDays ?? null,
    pruneIntervalMs: positiveInt(o.pruneIntervalMs, 3_600_000, 'pruneIntervalMs'),
    orphanAfterMs: positiveInt(o.orphanAfterMs, 15 * 60_000, 'orphanAfterMs', 0),
    recoverIntervalMs: positiveInt(o.recoverIntervalMs, 60_000, 'recoverIntervalMs'),
  };
}
