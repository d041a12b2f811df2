import type { AuditEntry } from '../store/audit-record.js';

/** How audit rows look to people (`audit query` tables, `audit tail` lines); `--json` keeps them as stored. */

/** The table columns of `audit query`: who, what, the decision and how it ended. */
export const AUDIT_COLUMNS = [
  'seq', 'time', 'kind', 'agent', 'user', 'server', 'tool', 'decision', 'reason', 'status', 'latencyMs', 'requestId',
] as const;

/** A row for the table: the time as ISO 8601 UTC, the latency rounded to what a person reads. */
export function displayRow(e: AuditEntry): Record<string, unknown> {
  return {
    ...e,
    time: new Date(e.time).toISOString(),
    latencyMs: e.latencyMs === null ? null : Math.round(e.latencyMs * 10) / 10,
  };
}

/**
 * One line per row for `audit tail`, readable as it scrolls by: a table would need every row
 * before it could align its columns, and a tail never has them all.
 */
export function formatAuditLine(e: AuditEntry): string {
  const target = `${e.server ?? '-'}/${e.tool ?? '-'}`;
  const verdict =
    e.kind === 'attempt'
      ? `${e.decision ?? '-'}${e.reason ? ` (${e.reason})` : ''}`
      : `${e.status ?? '-'}${e.isError ? ' isError' : ''}${e.latencyMs === null ? '' : ` ${Math.round(e.latencyMs * 10) / 10}ms`}${e.reason ? ` (${e.reason})` : ''}`;
  const id = e.requestId === null ? '' : `  id=${e.requestId}`;
  return `${new Date(e.time).toISOString()}  #${e.seq}  ${e.kind.padEnd(7)}  ${e.agent ?? '-'}  ${target}  ${verdict}${id}`;
}
