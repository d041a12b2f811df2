import { Readable } from 'node:stream';
import type Database from 'better-sqlite3';
import { Hono, type Context } from 'hono';
import { requireAdminKey } from './admin-auth.js';
import { openAuditDb } from '../store/audit-db.js';
import { exportAudit, queryAudit, type AuditExportFormat, type AuditQuery } from '../store/audit-query.js';

/** Options of {@link createAdminAuditRoutes}. */
export interface AdminAuditRoutesOptions {
  /** The gateway's SQLite file, which holds the audit log. */
  readonly file: string;
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

/** Where a database error means "there is no audit log here yet" rather than a broken store. */
const NO_LOG = /no such table: audit_log|unable to open database file|SQLITE_CANTOPEN/i;

/**
 * `/admin/audit`, mounted by the gateway under `/admin`:
 * - `GET /audit?agent=&user=&server=&tool=&decision=allow|deny&from=&to=&limit=&cursor=` →
 *   `{ rows, nextCursor }`, oldest first; pass `nextCursor` back as `cursor` for the next page.
 * - `GET /audit/export?format=jsonl|csv&…filters` → the matching rows, streamed.
 * Bearer admin key, compared in constant time (`admin/admin-key.ts`). Reads go through a
 * read-only connection opened per request, so no reader can block the audit writer's commits
 * (WAL readers never do) and nothing outlives the request. Errors are JSON `{ error, message }`.
 */
export function createAdminAuditRoutes(options: AdminAuditRoutesOptions): Hono {
  const app = new Hono();
  const { file } = options;
  if (typeof file !== 'string' || file === '' || file === ':memory:') {
    throw new TypeError('createAdminAuditRoutes: file must be the path of the gateway database');
  }
  // Scoped to /audit so that, mounted beside the other admin routes under /admin, these
  // handlers never answer (or refuse) a path that is not theirs.
  const paths = ['/audit', '/audit/*'];

  if (options.key === null || options.key === undefined) {
    for (const p of paths) app.all(p, (c) => c.json({ error: 'admin_disabled', message: 'the admin API is disabled: set admin.key (or PORTCULLIS_ADMIN_KEY)' }, 404));
    return app;
  }
  for (const p of paths) app.use(p, requireAdminKey(options.key));

  app.get('/audit', (c) => {
    const query = filtersOf(c);
    if (query instanceof Response) return query;
    return withReader(c, file, (db) => {
      const page = queryAudit(db, query);
      return c.json({ rows: page.entries, nextCursor: page.nextCursor });
    });
  });

  app.get('/audit/export', (c) => {
    const format = c.req.query('format');
    if (format !== 'jsonl' && format !== 'csv') return c.json({ error: 'invalid_input', message: 'format: must be jsonl or csv' }, 400);
    const query = filtersOf(c);
    if (query instanceof Response) return query;
    const db = openReader(c, file);
    if (db instanceof Response) return db;
    let stream: Readable;
    try {
      // Probe before the 200 goes out: once streaming, a missing log could only cut the body.
      db.prepare('SELECT 1 FROM audit_log LIMIT 1').get();
      stream = exportAudit(db, query, format);
    } catch (err) {
      db.close();
      return storeError(c, err);
    }
    // 'close' follows the end, an error and a client that went away (the web stream's cancel
    // destroys the node stream), so the connection is always released.
    stream.once('close', () => db.close());
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

function openReader(c: Context, file: string): Database.Database | Response {
  try {
    return openAuditDb(file, { readonly: true });
  } catch (err) {
    return storeError(c, err);
  }
}

function withReader(c: Context, file: string, fn: (db: Database.Database) => Response): Response {
  const db = openReader(c, file);
  if (db instanceof Response) return db;
  try {
    return fn(db);
  } catch (err) {
    return storeError(c, err);
  } finally {
    db.close();
  }
}

function storeError(c: Context, err: unknown): Response {
  const message = (err as Error).message ?? String(err);
  if (NO_LOG.test(message)) return c.json({ error: 'no_audit_log', message: 'there is no audit log yet: it is created when the gateway starts' }, 404);
  return c.json({ error: 'audit_unavailable', message: `the audit log cannot be read: ${message}` }, 503);
}
