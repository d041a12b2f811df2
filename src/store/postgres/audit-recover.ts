import type { ClientBase } from 'pg';
import { timedQuery } from './timed-query.js';
import { latestSignedPgCheckpoint, insertPgCheckpoint } from './audit-checkpoint.js';
import { beginChainTransaction, insertChainRows, rollback, type PgChainContext } from './audit-batch.js';
import { unknownOutcome } from '../audit-recover.js';

/**
 * Crash recovery on a shared Postgres: allowed attempts that will never get an outcome get an
 * `outcome_unknown` row, as on SQLite (`../audit-recover.ts`). The difference is who else is
 * alive. On SQLite one writer owns the file, so at its start every open attempt is orphaned. Here
 * other gateway instances may be mid-call, and an attempt without an outcome may simply be a call
 * still running somewhere, so:
 *
 * THE RULE: an allowed attempt is orphaned when it has no outcome and its `time` is more than
 * `orphanAfterMs` before the sweeper's clock. A live instance appends a call's outcome as soon
 * as the call ends, and every call ends within its server's `timeoutMs` (the gateway answers with
 * a timeout then); `openAudit` sets `orphanAfterMs` to twice the largest `timeoutMs`, and never
 * below 15 minutes, which also absorbs clock skew between instances and a writer queue stalled by
 * a brief store outage. If an outcome does arrive later anyway, the log keeps both rows: first
 * what was known at the sweep, then what happened. Nothing is edited.
 *
 * Every writer sweeps at start and then periodically (a crashed instance may never restart, and
 * a restarted one cannot close its predecessor's youngest attempts at once). A sweep scans from
 * the latest signed `start` checkpoint, which here is a watermark: every allowed attempt at or
 * below its seq has an outcome. The scan runs outside the chain lock; only the re-check and the
 * appends take it, so several instances sweeping at once close each orphan exactly once.
 */

/** What a scan found: orphans to settle, and how far the log is settled once they are. */
export interface OrphanScan {
  orphans: Array<Record<string, string | number | null>>;
  /** The new `start` watermark: one below the oldest attempt still legitimately open, or the scanned head. */
  watermark: number;
  /** The watermark the scan started from. */
  since: number;
}

/** Finds orphaned attempts (see the rule above). Reads only; no lock. */
export async function scanOrphanedAttempts(
  client: ClientBase,
  opts: { secret: string; orphanAfterMs: number; now: number },
): Promise<OrphanScan> {
  const since = (await latestSignedPgCheckpoint(client, opts.secret, 'start'))?.seq ?? 0;
  // The head first: rows appended while scanning lie above it and are left for the next sweep,
  // so the watermark never passes an attempt the scan did not see.
  const head = Number((await client.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM audit_log')).rows[0].seq ?? 0);
  const { rows } = await client.query<Record<string, string | number | null>>(
    `SELECT a.* FROM audit_log a
      WHERE a.seq > $1 AND a.seq <= $2 AND a.kind = 'attempt' AND a.decision = 'allow'
        AND NOT EXISTS (SELECT 1 FROM audit_log o
                         WHERE o.request_key = a.request_key AND o.kind = 'outcome' AND o.seq > a.seq)
      ORDER BY a.seq`,
    [since, head],
  );
  const cutoff = opts.now - opts.orphanAfterMs;
  const orphans = rows.filter((r) => Number(r.time) < cutoff);
  const stillOpen = rows.find((r) => Number(r.time) >= cutoff);
  return { orphans, watermark: stillOpen ? Number(stillOpen.seq) - 1 : Math.max(head, since), since };
}

/**
 * Appends the `outcome_unknown` rows of a scan in one chain transaction, with a signed `start`
 * checkpoint at the new watermark and a `head` checkpoint at the new head. Orphans another
 * instance settled meanwhile are skipped. Returns how many were settled here.
 */
export async function settleOrphans(
  client: ClientBase,
  ctx: PgChainContext,
  scan: OrphanScan,
  now: number,
  /** At a writer's start: pin the head it found, as SQLite's `start` checkpoint does, so a tail cut before the restart is seen. */
  pinHead = false,
): Promise<number> {
  try {
    const before = await beginChainTransaction(client, ctx);
    let orphans = scan.orphans;
    if (orphans.length) {
      const settled = await timedQuery<{ request_key: string }>(
        client,
        "SELECT DISTINCT request_key FROM audit_log WHERE kind = 'outcome' AND request_key = ANY($1::text[])",
        [orphans.map((o) => String(o.request_key))],
        ctx.queryTimeoutMs,
      );
      const done = new Set(settled.rows.map((r) => r.request_key));
      orphans = orphans.filter((o) => !done.has(String(o.request_key)));
    }
    const head = await insertChainRows(client, ctx, before, orphans.map((o) => unknownOutcome(o, now)));
    const current = (await latestSignedPgCheckpoint(client, ctx.secret, 'start'))?.seq ?? 0;
    if (scan.watermark > current) {
      const row = await timedQuery<{ hash: string }>(
        client,
        'SELECT hash FROM audit_log WHERE seq = $1',
        [scan.watermark],
        ctx.queryTimeoutMs,
      );
      // A watermark row pruned meanwhile pins nothing; the next sweep starts lower, at no cost.
      if (row.rows[0]) {
        await insertPgCheckpoint(client, ctx.secret, { kind: 'start', seq: scan.watermark, headHash: row.rows[0].hash, time: now }, ctx.queryTimeoutMs);
      }
    }
    const headDue = head.seq > 0 && (pinHead || orphans.length > 0 || ctx.uncheckpointed > 0);
    if (headDue) {
      await insertPgCheckpoint(client, ctx.secret, { kind: 'head', seq: head.seq, headHash: head.hash, time: now }, ctx.queryTimeoutMs);
    }
    await timedQuery(client, 'COMMIT', undefined, ctx.queryTimeoutMs);
    if (headDue) {
      ctx.uncheckpointed = 0;
      ctx.lastCheckpointAt = now;
    }
    return orphans.length;
  } catch (err) {
    await rollback(client, err);
    throw err;
  }
}
