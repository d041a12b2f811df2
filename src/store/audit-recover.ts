import { commitBatch, type AuditBatchItem, type ChainContext } from './audit-batch.js';
import { latestSignedCheckpoint } from './audit-checkpoint.js';
import type { AuditRowValues } from './audit-record.js';

/**
 * Crash recovery, run by the writer once at start before any new record: every allowed attempt
 * of an earlier run that has no outcome (the gateway died between forwarding and answering) gets
 * an `outcome` row with status `outcome_unknown`. Chained rows are never edited or deleted; the
 * attempt stays as it was, and the new row says what is known: the call may have reached the
 * upstream, its result was not seen.
 *
 * Only rows after the last `start` checkpoint are scanned: everything before it was settled by
 * the previous start. The new outcomes and the new `start` checkpoint commit together.
 */
export function recoverUnfinishedAttempts(ctx: ChainContext): number {
  const since = latestSignedCheckpoint(ctx.db, ctx.secret, 'start')?.seq ?? 0;
  const orphans = ctx.db
    .prepare(
      `SELECT * FROM audit_log a
        WHERE a.seq > ? AND a.kind = 'attempt' AND a.decision = 'allow'
          AND NOT EXISTS (SELECT 1 FROM audit_log o
                           WHERE o.request_key = a.request_key AND o.kind = 'outcome' AND o.seq > a.seq)
        ORDER BY a.seq`,
    )
    .all(since) as Array<Record<string, string | number | null>>;
  const now = Date.now();
  const items: AuditBatchItem[] = orphans.map((a) => ({ values: unknownOutcome(a, now) }));
  commitBatch(ctx, items, 'start');
  return items.length;
}

/** The `outcome_unknown` row that settles an orphaned attempt (`a` as the database returned it). */
export function unknownOutcome(a: Record<string, string | number | null>, now: number): AuditRowValues {
  const str = (k: string): string | null => (a[k] === null ? null : String(a[k]));
  return {
    time: now,
    kind: 'outcome',
    request_key: String(a.request_key),
    agent: str('agent'),
    user: str('user'),
    tenant: str('tenant'),
    client: str('client'),
    delegation: str('delegation'),
    server: str('server'),
    tool: str('tool'),
    method: str('method'),
    args_digest: null,
    args: null,
    decision: null,
    reason: 'gateway_restarted',
    request_id: str('request_id'),
    source_ip: str('source_ip'),
    status: 'outcome_unknown',
    is_error: null,
    latency_ms: null,
    bytes: null,
  };
}
