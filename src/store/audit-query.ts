import { Readable } from 'node:stream';
import type Database from 'better-sqlite3';
import { and, asc, desc, eq, getTableColumns, gt, gte, lt, type AnyColumn, type SQL } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import type { AuditDecision, AuditEntry } from './audit-record.js';
import { auditLog } from './audit-schema.js';

/**
 * Reading the audit log: filtered pages for `/admin/audit` and `portcullis audit query|tail`, and
 * streamed exports. Pagination is keyset by `seq` (the cursor is the last seq seen), so pages stay
 * O(limit) however deep and a row appended meanwhile never shifts one.
 */

/** Filters of {@link queryAudit} (all optional, combined with AND). */
export interface AuditQuery {
  agent?: string;
  user?: string;
  server?: string;
  tool?: string;
  decision?: AuditDecision;
  kind?: 'attempt' | 'outcome';
  status?: string;
  requestKey?: string;
  /** Inclusive lower bound on `time` (epoch ms). */
  from?: number;
  /** Exclusive upper bound on `time` (epoch ms). */
  to?: number;
  /** `nextCursor` of the previous page; opaque. */
  cursor?: string | null;
  /** Rows per page: default 100, at most 1000. */
  limit?: number;
  /** `asc` (default: oldest first) or `desc` (newest first, for tails). */
  order?: 'asc' | 'desc';
}

/** One page of {@link queryAudit}. */
export interface AuditPage {
  entries: AuditEntry[];
  /** Pass as `cursor` for the next page; null when this page is the last. */
  nextCursor: string | null;
}

const MAX_LIMIT = 1000;

function parseCursor(cursor: string | null | undefined): number | undefined {
  if (cursor === undefined || cursor === null || cursor === '') return undefined;
  if (!/^\d{1,15}$/.test(cursor)) throw new TypeError('audit query: bad cursor');
  return Number(cursor);
}

/** The `audit_log` columns a filter reads; the SQLite and the Postgres table both have them. */
export type AuditFilterColumns = Record<
  'seq' | 'time' | 'agent' | 'user' | 'server' | 'tool' | 'decision' | 'kind' | 'status' | 'requestKey',
  AnyColumn
>;

/**
 * A query as dialect-neutral SQL pieces: the WHERE (filters and cursor), the ORDER BY and how
 * many rows to ask for (one more than the page, to know whether another page follows).
 */
export function auditQueryPlan(t: AuditFilterColumns, query: AuditQuery): { where: SQL | undefined; orderBy: SQL; fetch: number; limit: number } {
  const limit = Math.min(Math.max(Math.trunc(query.limit ?? 100), 1), MAX_LIMIT);
  const order = query.order ?? 'asc';
  const after = parseCursor(query.cursor);
  const where: SQL[] = [];
  if (query.agent !== undefined) where.push(eq(t.agent, query.agent));
  if (query.user !== undefined) where.push(eq(t.user, query.user));
  if (query.server !== undefined) where.push(eq(t.server, query.server));
  if (query.tool !== undefined) where.push(eq(t.tool, query.tool));
  if (query.decision !== undefined) where.push(eq(t.decision, query.decision));
  if (query.kind !== undefined) where.push(eq(t.kind, query.kind));
  if (query.status !== undefined) where.push(eq(t.status, query.status));
  if (query.requestKey !== undefined) where.push(eq(t.requestKey, query.requestKey));
  if (query.from !== undefined) where.push(gte(t.time, query.from));
  if (query.to !== undefined) where.push(lt(t.time, query.to));
  if (after !== undefined) where.push(order === 'asc' ? gt(t.seq, after) : lt(t.seq, after));
  return { where: where.length ? and(...where) : undefined, orderBy: order === 'asc' ? asc(t.seq) : desc(t.seq), fetch: limit + 1, limit };
}

/** A page from the rows a plan fetched (at most `limit + 1`). */
export function toAuditPage(entries: AuditEntry[], limit: number): AuditPage {
  const more = entries.length > limit;
  if (more) entries.pop();
  return { entries, nextCursor: more ? String(entries[entries.length - 1].seq) : null };
}

/** One page of audit rows matching the filter. Synchronous reads; pass a read-only connection. */
export function queryAudit(db: Database.Database, query: AuditQuery = {}): AuditPage {
  const plan = auditQueryPlan(auditLog, query);
  const entries = drizzle(db).select().from(auditLog).where(plan.where).orderBy(plan.orderBy).limit(plan.fetch).all();
  return toAuditPage(entries, plan.limit);
}

/** Export formats of {@link exportAudit}. */
export type AuditExportFormat = 'jsonl' | 'csv';

const CSV_COLUMNS = Object.keys(getTableColumns(auditLog)) as Array<keyof AuditEntry>;

/**
 * Streams every row matching the filter (from `cursor`, up to `limit` rows in total if given) as
 * JSON Lines or CSV (RFC 4180, with a header row). Reads a page at a time, so the connection is
 * never held by an open cursor between chunks and memory stays flat.
 */
export function exportAudit(db: Database.Database, query: AuditQuery, format: AuditExportFormat): Readable {
  return exportAuditPages((q) => queryAudit(db, q), query, format);
}

/**
 * The export stream over any dialect's page reader: a page at a time, so no cursor is held
 * open between chunks and memory stays flat.
 */
export function exportAuditPages(
  readPage: (query: AuditQuery) => AuditPage | Promise<AuditPage>,
  query: AuditQuery,
  format: AuditExportFormat,
): Readable {
  if (format !== 'jsonl' && format !== 'csv') throw new TypeError('audit export: format must be jsonl or csv');
  return Readable.from(exportLines(readPage, query, format));
}

async function* exportLines(
  readPage: (query: AuditQuery) => AuditPage | Promise<AuditPage>,
  query: AuditQuery,
  format: AuditExportFormat,
): AsyncGenerator<string> {
  let remaining = query.limit ?? Infinity;
  let cursor = query.cursor ?? null;
  if (format === 'csv') yield CSV_COLUMNS.join(',') + '\r\n';
  while (remaining > 0) {
    const page = await readPage({ ...query, cursor, limit: Math.min(MAX_LIMIT, remaining) });
    let chunk = '';
    for (const e of page.entries) chunk += format === 'csv' ? csvLine(e) : JSON.stringify(e) + '\n';
    if (chunk) yield chunk;
    remaining -= page.entries.length;
    if (!page.nextCursor) return;
    cursor = page.nextCursor;
  }
}

function csvLine(e: AuditEntry): string {
  return CSV_COLUMNS.map((k) => csvField(e[k])).join(',') + '\r\n';
}

function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') return String(value);
  // Tool names and arguments come from clients: a leading = + - @ would run as a spreadsheet
  // formula when the export is opened (OWASP CSV injection), so such text gets a leading quote.
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
