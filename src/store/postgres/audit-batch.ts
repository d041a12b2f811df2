import type { ClientBase } from 'pg';
import { timedQuery } from './timed-query.js';
import type { RedactionRule } from '../audit-args.js';
import { AUDIT_LOG_COLUMNS, type AuditBatchItem, type AuditItemResult } from '../audit-batch.js';
import { chainColumns, GENESIS_HASH, hashAuditRow, type ChainColumns } from '../audit-chain.js';
import { checkpointDue, noteCommitted, type AuditCheckpointKind } from '../audit-checkpoint.js';
import { toAuditRowValues, type AuditRowValues } from '../audit-record.js';
import { insertPgCheckpoint } from './audit-checkpoint.js';
import { LOCK } from './connect.js';

/**
 * Appending a batch to the chain on Postgres, in ONE transaction: the Postgres side of group
 * commit (`../audit-batch.ts` is the SQLite one). Several gateway instances may append to one
 * chain, so the transaction first takes the chain's advisory lock, then reads the head: the
 * seqs it assigns and the hashes it links are the ones the lock holder alone can see, and a
 * rolled-back batch leaves nothing behind (the lock and the head go with the transaction).
 */

/** The chain writer's state on Postgres; `uncheckpointed` and `lastCheckpointAt` are this writer's. */
export interface PgChainContext {
  secret: string;
  redact: RedactionRule;
  uncheckpointed: number;
  lastCheckpointAt: number;
  checkpointEvery: number;
  checkpointMs: number;
  /** How long to wait for another instance's chain lock (`lock_timeout`). */
  lockTimeoutMs: number;
  /** Client-side bound on every statement, so a dead network fails the batch instead of hanging it. */
  queryTimeoutMs: number;
  /** `SET LOCAL synchronous_commit = on`: a commit is fsynced whatever the server's default. */
  forceSyncCommit: boolean;
  columns: ChainColumns;
}

/** Postgres caps a statement at 65 535 bind parameters; 24 columns a row → at most 2730 rows. */
export const MAX_ROWS_PER_INSERT = Math.floor(65_535 / AUDIT_LOG_COLUMNS.length);

// `user` is a reserved word in Postgres: every column name is quoted.
const INSERT_HEAD = `INSERT INTO audit_log (${AUDIT_LOG_COLUMNS.map((c) => `"${c}"`).join(', ')}) VALUES `;
const placeholders = new Map<number, string>();

/** `($1,…,$24),($25,…)` for `rows` rows, cached per row count (batches come in a few sizes). */
function valuesClause(rows: number): string {
  let text = placeholders.get(rows);
  if (!text) {
    const width = AUDIT_LOG_COLUMNS.length;
    const tuples: string[] = new Array(rows);
    for (let r = 0; r < rows; r++) {
      const cells: string[] = new Array(width);
      for (let c = 0; c < width; c++) cells[c] = `$${r * width + c + 1}`;
      tuples[r] = `(${cells.join(',')})`;
    }
    text = tuples.join(',');
    if (placeholders.size < 64) placeholders.set(rows, text);
  }
  return text;
}

/** A new context; the head is always read inside each batch's transaction, never cached. */
export function createPgChainContext(opts: Omit<PgChainContext, 'uncheckpointed' | 'lastCheckpointAt' | 'columns'>): PgChainContext {
  return {
    ...opts,
    uncheckpointed: 0,
    lastCheckpointAt: Date.now(),
    columns: chainColumns(Object.fromEntries(AUDIT_LOG_COLUMNS.map((c) => [c, null]))),
  };
}

/** Opens the batch transaction, holding the chain lock; returns the head it found. */
export async function beginChainTransaction(
  client: ClientBase,
  ctx: Pick<PgChainContext, 'lockTimeoutMs' | 'queryTimeoutMs' | 'forceSyncCommit'>,
): Promise<{ seq: number; hash: string }> {
  // One round trip (simple protocol, several statements). The values are integers this module
  // controls, never caller text.
  const text =
    `BEGIN; SET LOCAL lock_timeout = ${Math.trunc(ctx.lockTimeoutMs)};` +
    (ctx.forceSyncCommit ? ' SET LOCAL synchronous_commit = on;' : '') +
    ` SELECT pg_advisory_xact_lock(${LOCK.auditChain});` +
    ' SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1';
  // Without values `pg` uses the simple protocol, which answers a multi-statement text with one result each.
  const results = (await timedQuery(client, text, undefined, ctx.queryTimeoutMs + ctx.lockTimeoutMs)) as unknown as Array<{
    rows: Array<{ seq: string; hash: string }>;
  }>;
  const head = results.at(-1)!.rows[0];
  return head ? { seq: Number(head.seq), hash: head.hash } : { seq: 0, hash: GENESIS_HASH };
}

/**
 * Appends the items in one transaction on `client` (which must be idle): lock, head, hash in
 * order, multi-row INSERTs, a signed checkpoint when due (or `force`d), COMMIT. A record whose
 * values cannot be built is refused alone and takes no seq; any database error rolls the whole
 * batch back and is thrown, for the caller to reject every append of the batch.
 */
export async function commitPgBatch(
  client: ClientBase,
  ctx: PgChainContext,
  items: readonly AuditBatchItem[],
  force?: AuditCheckpointKind,
): Promise<{ results: AuditItemResult[]; head: { seq: number; hash: string } }> {
  const results: AuditItemResult[] = new Array(items.length);
  const built: AuditRowValues[] = [];
  const slots: number[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    try {
      built.push(item.values ?? toAuditRowValues(item.record!, ctx.redact, item.appendedAt));
      slots.push(i);
    } catch (err) {
      results[i] = { error: (err as Error).message };
    }
  }
  let before: { seq: number; hash: string };
  try {
    before = await beginChainTransaction(client, ctx);
  } catch (err) {
    await rollback(client, err);
    // Nothing was written yet: on a connection that died idle (a restarted server), the batch
    // may be run again as it is on a fresh one.
    if (isConnectionLost(err)) throw new StaleConnectionError(err);
    throw err;
  }
  try {
    const { seq, hash } = await insertChainRows(client, ctx, before, built);
    for (let j = 0; j < slots.length; j++) results[slots[j]] = before.seq + j + 1;
    const written = built.length;
    const now = Date.now();
    const kind = checkpointDue(ctx, written, now, force);
    if (kind && seq > 0) await insertPgCheckpoint(client, ctx.secret, { kind, seq, headHash: hash, time: now }, ctx.queryTimeoutMs);
    await timedQuery(client, 'COMMIT', undefined, ctx.queryTimeoutMs);
    noteCommitted(ctx, kind, written, now);
    return { results, head: { seq, hash } };
  } catch (err) {
    await rollback(client, err);
    throw err;
  }
}

/**
 * Inserts rows after `head` (seq, prev_hash and hash assigned in order), inside the caller's
 * chain transaction; returns the new head. Chunked to stay under the bind-parameter cap.
 */
export async function insertChainRows(
  client: ClientBase,
  ctx: PgChainContext,
  head: { seq: number; hash: string },
  rows: readonly AuditRowValues[],
): Promise<{ seq: number; hash: string }> {
  let { seq, hash } = head;
  for (let start = 0; start < rows.length; start += MAX_ROWS_PER_INSERT) {
    const chunk = rows.slice(start, start + MAX_ROWS_PER_INSERT);
    const params: unknown[] = [];
    for (const values of chunk) {
      const row: Record<string, string | number | null> = { seq: seq + 1, ...values };
      const next = hashAuditRow(row, hash, ctx.columns);
      row.prev_hash = hash;
      row.hash = next;
      for (const c of AUDIT_LOG_COLUMNS) {
        const v = row[c];
        // Hashed as SQLite stores it (0/1), stored as Postgres's boolean; readers map it back.
        params.push(c === 'is_error' && v !== null ? v === 1 : v);
      }
      seq += 1;
      hash = next;
    }
    await timedQuery(client, INSERT_HEAD + valuesClause(chunk.length), params, ctx.queryTimeoutMs);
  }
  return { seq, hash };
}

/** The batch failed before it wrote anything, because its connection was already gone. */
export class StaleConnectionError extends Error {
  constructor(readonly original: unknown) {
    super((original as Error)?.message ?? String(original), { cause: original });
    this.name = 'StaleConnectionError';
  }
}

/** Whether an error means the connection (not the statement) failed: SQLSTATE class 08, an admin/crash shutdown, a dropped socket. */
export function isConnectionLost(err: unknown): boolean {
  const code = String((err as { code?: unknown })?.code ?? '');
  return /^08|^57P0[1-3]$/.test(code) || /Connection terminated|ECONNRESET|EPIPE|ECONNREFUSED/.test(String((err as Error)?.message));
}

/**
 * Rolls back whatever is open after `failure`; a connection too broken to answer is dropped by
 * the caller. After a client-side timeout the timed-out statement may still be running on the
 * connection: nothing more is sent on it (the caller destroys it, which ends the transaction).
 */
export async function rollback(client: ClientBase, failure: unknown): Promise<void> {
  if (/Query read timeout/.test(String((failure as Error)?.message))) return;
  try {
    await timedQuery(client, 'ROLLBACK', undefined, 2000);
  } catch {
    // The caller releases the client with the error, so the pool destroys it.
  }
}
