import { Readable } from 'node:stream';
import { Hono, type Context } from 'hono';
import { requireAdminKey } from './admin-auth.js';
import type { AuditExportFormat, AuditQuery } from '../store/audit-query.js';
import type { AuditReader } from '../store/audit-reader.js';

/** Options of {@link createAdminAuditRoutes}. */
export interface AdminAuditRoutesOptions {
  /** The reader of the gateway's database, which holds the audit log (SQLite or Postgres). */
  readonly reader: AuditReader;
  /** The admin key (≥ 32 chars); `null`/`undefined` disables these routes (404). */
  readonly key: string | null | undefined;
}

/** A filter the caller got wrong; the message names the parameter (`from: …`). */
export class AuditFilterError extends Error {}

const DECISIONS = new Set(['allow', 'deny']);
const TEXT_FILTERS = ['agent', 'user', 'server', 'tool'] as const;
// The store caps a page at 1000 rows; saying so beats silently returning fewer.
const MAX_LIMIT = 1000;

/**
 * The text form of an audit filter, shared by `/admin/audit` (query parameters) and
 * `portcullis audit query|export|tail` (flags of the same names), so both accept and refuse
 * exactly the same things. `from`/`to` are ISO 8601 dates or date-times (a date is UTC
 * midnight); `from` is inclusive, `to` exclusive. Throws {@link AuditFilterError}.
 */
export function parseAuditFilters(get: (name: string) => string | undefined): AuditQuery {
  const query: AuditQuery = {};
  for (const name of TEXT_FILTERS) {
    const value = get(name);
    if (value !== undefined) query[name] = value;
  }
  const decision = get('decision');
  if (decision !== undefined) {
    if (!DECISIONS.has(decision)) throw new AuditFilterError('decision: must be allow or deny');
    query.decision = decision as 'allow' | 'deny';
  }
  const from = parseInstant('from', get('from'));
  const to = parseInstant('to', get('to'));
  if (from !== undefined) query.from = from;
  if (to !== undefined) query.to = to;
  const limit = get('limit');
  if (limit !== undefined) {
    const n = Number(limit);
    if (!/^\d+$/.test(limit) || n < 1 || n > MAX_LIMIT) throw new AuditFilterError(`limit: must be an integer from 1 to ${MAX_LIMIT}`);
    query.limit = n;
  }
  const cursor = get('cursor');
  if (cursor !== undefined) {
    // The cursor is the last seq of the previous page (see `audit-query.ts`); checked here so a
    // bad one is the caller's 400, not the store's TypeError.
    if (!/^\d{1,15}$/.test(cursor)) throw new AuditFilterError('cursor: must be the nextCursor of a previous page');
    query.cursor = cursor;
  }
  return query;
}

// A date, or a date-time with optional seconds, milliseconds and zone; loose forms that
// Date.parse would also take ("1", "May 5") mean different things to different engines.
const ISO_INSTANT = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)(Z|[+-]\d{2}:\d{2})?)?$/;

function parseInstant(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = ISO_INSTANT.exec(text);
  // A date-time without a zone is UTC, like a bare date, not the reader's local time: the
  // gateway's clock and its operators may well be in different zones.
  const ms = m ? Date.parse(m[2] === undefined ? m[1] : `${m[1]}T${m[2]}${m[3] ?? 'Z'}`) : NaN;
  if (!Number.isFinite(ms)) throw new AuditFilterError(`${name}: must be an ISO 8601 date or date-time, e.g. 2026-01-31 or 2026-01-31T12:00:00Z`);
  return ms;
}

/**
 * `/admin/audit`, mounted by the gateway under `/admin`:
 * - `GET /audit?agent=&user=&server=&tool=&decision=allow|deny&from=&to=&limit=&cursor=` →
 *   `{ rows, nextCursor }`, oldest first; pass `nextCursor` back as `cursor` for the next page.
 * - `GET /audit/export?format=jsonl|csv&…filters` → the matching rows, streamed.
 * Bearer admin key, compared in constant time (`admin/admin-key.ts`). Reads go through the
 * dialect's {@link AuditReader} (on SQLite a read-only connection per request, which cannot
 * block the writer's commits; on Postgres a small pool of its own). No log yet is a 404, a store
 * that cannot be read a 503. Errors are JSON `{ error, message }`.
 */
export function createAdminAuditRoutes(options: AdminAuditRoutesOptions): Hono {
  const app = new Hono();
  const { reader } = options;
  if (!reader || typeof reader.query !== 'function') throw new TypeError('createAdminAuditRoutes: reader must be an AuditReader');
  // Scoped to /audit so that, mounted beside the other admin routes under /admin, these
  // handlers never answer (or refuse) a path that is not theirs.
  const paths = ['/audit', '/audit/*'];

  if (options.key === null || options.key === undefined) {
    for (const p of paths) app.all(p, (c) => c.json({ error: 'admin_disabled', message: 'the admin API is disabled: set admin.key (or PORTCULLIS_ADMIN_KEY)' }, 404));
    return app;
  }
  for (const p of paths) app.use(p, requireAdminKey(options.key));

  app.get('/audit', async (c) => {
    const query = filtersOf(c);
    if (query instanceof Response) return query;
    try {
      if (!(await reader.hasLog())) return noLog(c);
      const page = await reader.query(query);
      return c.json({ rows: page.entries, nextCursor: page.nextCursor });
    } catch (err) {
      return storeError(c, err);
    }
  });

  app.get('/audit/export', async (c) => {
    const format = c.req.query('format');
    if (format !== 'jsonl' && format !== 'csv') return c.json({ error: 'invalid_input', message: 'format: must be jsonl or csv' }, 400);
    const query = filtersOf(c);
    if (query instanceof Response) return query;
    let stream: Readable;
    try {
      // Probe before the 200 goes out: once streaming, a missing log could only cut the body.
      if (!(await reader.hasLog())) return noLog(c);
      stream = reader.export(query, format);
    } catch (err) {
      return storeError(c, err);
    }
    return c.body(Readable.toWeb(stream) as ReadableStream, 200, {
      'Content-Type': CONTENT_TYPES[format],
      'Content-Disposition': `attachment; filename="audit.${format}"`,
    });
  });

  app.all('/audit', (c) => c.json({ error: 'method_not_allowed', message: 'use GET' }, 405));
  app.all('/audit/*', (c) => c.json({ error: 'not_found', message: `no admin route ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));
  return app;
}

const CONTENT_TYPES: Readonly<Record<AuditExportFormat, string>> = {
  jsonl: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
};

function filtersOf(c: Context): AuditQuery | Response {
  try {
    return parseAuditFilters((name) => c.req.query(name));
  } catch (err) {
    if (err instanceof AuditFilterError) return c.json({ error: 'invalid_input', message: err.message }, 400);
    throw err;
  }
}

function noLog(c: Context): Response {
  return c.json({ error: 'no_audit_log', message: 'there is no audit log yet: it is created when the gateway starts' }, 404);
}

function storeError(c: Context, err: unknown): Response {
  const message = (err as Error).message ?? String(err);
  return c.json({ error: 'audit_unavailable', message: `the audit log cannot be read: ${message}` }, 503);
}
