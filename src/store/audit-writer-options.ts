/** Options of the audit writer and their start-up validation (see `audit-writer.ts`). */
import type { PortcullisError } from '../errors.js';
import { DEFAULT_REDACT_KEYS } from './audit-args.js';
import type { AuditSqlOp } from './audit-batch.js';
import { assertAuditSecret } from './audit-checkpoint.js';
import type { AuditDurability } from './audit-db.js';
import type { AuditWorkerConfig } from './audit-messages.js';

/** Options of {@link createAuditWriter}; validated when the writer is built. */
export interface AuditWriterOptions {
  /** The SQLite file (normally the gateway's database). */
  file: string;
  /** `process` (default: WAL + synchronous=NORMAL) or `power` (synchronous=FULL). */
  durability?: AuditDurability;
  /** The gateway secret (≥ 32 chars); signs checkpoints. */
  secret: string;
  /** Most records per transaction; a full queue flushes at once. Default 256. */
  batchSize?: number;
  /** Longest a record waits for company before its batch is sent; 0 (default) = next event-loop turn. */
  flushMs?: number;
  /** Longest a deferred record (`append(r, { defer: true })`) waits to ride with the next batch. Default 10 ms. */
  deferMs?: number;
  /** Queued records beyond which `append` rejects (a stalled store must not eat memory). Default 50 000. */
  maxQueue?: number;
  /** Argument keys redacted when arguments are stored (see `audit-args.ts`). */
  redactKeys?: readonly string[];
  /** How long a batch waits for another connection's write lock before failing. Default 1000 ms. */
  busyTimeoutMs?: number;
  /** Write a signed head checkpoint every N records… (default 1000) */
  checkpointEvery?: number;
  /** …or every T ms while records are unsigned (default 5000). Bounds the undetectable truncation. */
  checkpointMs?: number;
  /** Prune rows older than this many days on the worker, every `pruneIntervalMs` (default 1 h). */
  retentionDays?: number | null;
  pruneIntervalMs?: number;
  skipMigrations?: boolean;
  /** Told about every store failure (failed open or batch), e.g. to log or alert. */
  onFailure?: (error: PortcullisError) => void;
}

/** Per-append options. */
export interface AuditAppendOptions {
  /** SQL run in the same transaction as this record (budget usage); see {@link AuditSqlOp}. */
  ops?: readonly AuditSqlOp[];
  /**
   * Nobody awaits this record before acting (an outcome, a denial): it is sent with the next
   * batch, or after `deferMs`, instead of waking the writer on its own.
   */
  defer?: boolean;
}

/** Counters for `/metrics` and tests; `batches` < `committed` is group commit at work. */
export interface AuditWriterStats {
  queued: number;
  inFlightBatches: number;
  committed: number;
  rejected: number;
  batches: number;
  failedBatches: number;
  maxBatchSize: number;
  lastSeq: number | null;
  lastCommitMs: number;
  workerStarts: number;
}

/** An integer option ≥ `min`, or its default; throws at start-up naming the option. */
export function positiveInt(value: number | undefined, fallback: number, name: string, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) throw new TypeError(`audit writer: ${name} must be an integer ≥ ${min}`);
  return v;
}

/** How a writer queues and batches records, the same for both dialects. */
export interface WriterQueueConfig {
  batchSize: number;
  flushMs: number;
  deferMs: number;
  maxQueue: number;
}

/** The queueing options with their defaults; throws at start-up naming a bad one. */
export function compileQueueOptions(o: Pick<AuditWriterOptions, 'batchSize' | 'flushMs' | 'deferMs' | 'maxQueue'>): WriterQueueConfig {
  return {
    batchSize: positiveInt(o.batchSize, 256, 'batchSize'),
    flushMs: positiveInt(o.flushMs, 0, 'flushMs', 0),
    deferMs: positiveInt(o.deferMs, 10, 'deferMs'),
    maxQueue: positiveInt(o.maxQueue, 50_000, 'maxQueue'),
  };
}

/** The checks both dialects' writers make of the options they share; returns the durability. */
export function checkCommonWriterOptions(o: {
  secret: unknown;
  durability?: AuditDurability;
  retentionDays?: number | null;
}): AuditDurability {
  assertAuditSecret(o.secret);
  const durability = o.durability ?? 'process';
  if (durability !== 'process' && durability !== 'power') {
    throw new TypeError("audit writer: durability must be 'process' or 'power'");
  }
  if (o.retentionDays != null && !(o.retentionDays > 0)) throw new TypeError('audit writer: retentionDays must be > 0');
  return durability;
}

/** Builds the worker's config from the options, failing at start-up on bad values. */
export function compileWriterOptions(o: AuditWriterOptions): AuditWorkerConfig {
  if (typeof o.file !== 'string' || o.file === '' || o.file === ':memory:') {
    throw new TypeError('audit writer: file must be a database path (the worker needs its own connection)');
  }
  const durability = checkCommonWriterOptions(o);
  return {
    file: o.file,
    durability,
    secret: o.secret,
    redactKeys: [...(o.redactKeys ?? DEFAULT_REDACT_KEYS)],
    busyTimeoutMs: positiveInt(o.busyTimeoutMs, 1000, 'busyTimeoutMs', 0),
    checkpointEvery: positiveInt(o.checkpointEvery, 1000, 'checkpointEvery'),
    checkpointMs: positiveInt(o.checkpointMs, 5000, 'checkpointMs'),
    skipMigrations: o.skipMigrations ?? false,
    recover: true,
    retentionDays: o.retentionDays ?? null,
    pruneIntervalMs: positiveInt(o.pruneIntervalMs, 3_600_000, 'pruneIntervalMs'),
  };
}

