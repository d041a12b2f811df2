import { hash } from 'node:crypto';

/**
 * The audit hash chain, and the one canonical serialisation everything in it is hashed over.
 *
 * Canonical form (RFC 8785, JSON Canonicalization Scheme, for the values JSON can carry):
 * object keys sorted by UTF-16 code units, no whitespace, strings escaped as `JSON.stringify`
 * does, numbers as ECMAScript prints them (which is what RFC 8785 §3.2.2.3 prescribes), `-0`
 * as `0`. Non-finite numbers, `undefined` inside arrays, functions, symbols and bigints are
 * rejected rather than silently changed. Object members whose value is `undefined` are skipped.
 *
 * Row hash: `hash = hex(SHA-256( UTF-8(canonical(fields)) ‖ UTF-8(prev_hash) ))` where `fields`
 * is every `audit_log` column of the row as stored (column names as keys, `is_error` as the
 * stored 0/1), except `prev_hash` and `hash`, and with NULL columns left out. Leaving NULLs out
 * means a column added by a later migration (NULL in old rows) does not change old hashes.
 * The first row's `prev_hash` is {@link GENESIS_HASH}.
 */

/** `prev_hash` of the first row ever written: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/** Columns the chain hash does not cover (they are the chain). */
const UNHASHED = new Set(['prev_hash', 'hash']);

/** RFC 8785-style canonical JSON of a JSON value (see the module comment for the exact rules). */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON: ${value} is not a JSON number`);
      // `String(-0)` is already "0"; ECMAScript number printing is the RFC 8785 form.
      return String(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (value[i] === undefined) throw new TypeError('canonical JSON: undefined array element');
          out += (i ? ',' : '') + canonicalJson(value[i]);
        }
        return out + ']';
      }
      const obj = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is the order RFC 8785 §3.2.3 requires.
      const keys = Object.keys(obj).sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const v = obj[key];
        if (v === undefined) continue;
        out += (first ? '' : ',') + JSON.stringify(key) + ':' + canonicalJson(v);
        first = false;
      }
      return out + '}';
    }
    default:
      throw new TypeError(`canonical JSON: cannot serialise a ${typeof value}`);
  }
}

/** Hex SHA-256 of a UTF-8 string (one-shot `crypto.hash`: ~40% cheaper than createHash for short input). */
export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

/** A stored `audit_log` row as SQLite returns it: column name → value. */
export type StoredAuditRow = Record<string, string | number | null>;

// Rows of one table share one shape; caching its sorted, pre-quoted key list keeps the canonical
// form of a row at a few string appends (it is computed once per record on the writer thread and
// once per row by verify).
const rowShapes = new Map<string, ChainColumns>();

/** A row shape's hashed columns, sorted, each with its JSON-quoted name. */
export type ChainColumns = ReadonlyArray<readonly [key: string, quoted: string]>;

/** The hashed columns of rows shaped like `row`, in canonical order. */
export function chainColumns(row: StoredAuditRow): ChainColumns {
  const keys = Object.keys(row);
  const shape = keys.join(',');
  let columns = rowShapes.get(shape);
  if (!columns) {
    columns = keys
      .filter((k) => !UNHASHED.has(k))
      .sort()
      .map((k) => [k, JSON.stringify(k)] as const);
    if (rowShapes.size < 64) rowShapes.set(shape, columns);
  }
  return columns;
}

/**
 * The canonical form of a stored row: non-null columns except `prev_hash` and `hash`. Equal to
 * `canonicalJson` of those columns (the test suite checks this), only faster. `columns` may be
 * passed by a caller whose rows all have one known shape.
 */
export function canonicalAuditRow(row: StoredAuditRow, columns: ChainColumns = chainColumns(row)): string {
  let out = '{';
  for (const [key, quoted] of columns) {
    const value = row[key];
    if (value === null || value === undefined) continue;
    out += (out.length > 1 ? ',' : '') + quoted + ':' + (typeof value === 'string' ? JSON.stringify(value) : canonicalJson(value));
  }
  return out + '}';
}

/** The chain hash of a row given the previous row's hash (see the module comment). */
export function hashAuditRow(row: StoredAuditRow, prevHash: string, columns?: ChainColumns): string {
  return sha256Hex(canonicalAuditRow(row, columns) + prevHash);
}
