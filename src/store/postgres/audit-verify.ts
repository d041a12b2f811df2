import type { ClientBase } from 'pg';
import type { StoredAuditRow } from '../audit-chain.js';
import { assertAuditSecret } from '../audit-checkpoint.js';
import { walkAuditChain, type AuditVerifyResult, type VerifyAuditOptions } from '../audit-verify-walk.js';
import { listPgCheckpoints } from './audit-checkpoint.js';
import { connectPostgres } from './connect.js';
import { withPoolClient } from './with-client.js';

/**
 * `portcullis audit verify` on Postgres: the walk of `../audit-verify-walk.ts` over one
 * REPEATABLE READ snapshot, so rows other instances append meanwhile are not half-seen. Rows are
 * read in keyset pages (memory stays flat however long the log) and turned back into the form
 * their hashes cover: SQLite's, where `is_error` is 0/1 and every number is a number.
 */

const PAGE = 5000;
const BIGINTS = ['seq', 'time', 'bytes'] as const;

/** A row as `pg` returns it (int8 as strings, a boolean `is_error`) in the form its hash covers. */
export function toStoredAuditRow(row: Record<string, unknown>): StoredAuditRow {
  const out = row as StoredAuditRow;
  for (const k of BIGINTS) if (row[k] !== null && row[k] !== undefined) out[k] = Number(row[k]);
  if (typeof row.is_error === 'boolean') out.is_error = row.is_error ? 1 : 0;
  return out;
}

/** Verifies the chain on `client` inside a read-only REPEATABLE READ transaction of its own. */
export async function verifyPgAuditClient(client: ClientBase, options: VerifyAuditOptions): Promise<AuditVerifyResult> {
  assertAuditSecret(options.secret);
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const result = await walkAuditChain(
      {
        checkpoints: (kind) => listPgCheckpoints(client, kind),
        rows: (after) => pagesAfter(client, after),
      },
      options,
    );
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

async function* pagesAfter(client: ClientBase, after: number): AsyncGenerator<StoredAuditRow> {
  for (let cursor = after; ; ) {
    const { rows } = await client.query('SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2', [cursor, PAGE]);
    for (const row of rows) yield toStoredAuditRow(row);
    if (rows.length < PAGE) return;
    cursor = Number(rows[rows.length - 1].seq);
  }
}

/** Verifies the audit chain of the database at `url` on a connection of its own. */
export async function verifyPgAuditChain(url: string, options: VerifyAuditOptions): Promise<AuditVerifyResult> {
  assertAuditSecret(options.secret);
  const { pool } = await connectPostgres({ url, skipMigrations: true, max: 1 });
  try {
    return await withPoolClient(pool, (client) => verifyPgAuditClient(client, options));
  } finally {
    await pool.end();
  }
}
