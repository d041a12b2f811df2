import { AuditFilterError, parseAuditFilters } from '../gateway/admin-audit-routes.js';
import type { AuditQuery } from '../store/audit-query.js';
import { CliError } from './command.js';

/**
 * The filter flags of `portcullis audit query|export|tail`. They carry the names of the
 * `/admin/audit` query parameters and go through the same parser, so the CLI and the API accept
 * exactly the same filters.
 */
export const FILTER_FLAGS = {
  agent: { type: 'string' },
  user: { type: 'string' },
  server: { type: 'string' },
  tool: { type: 'string' },
  decision: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
} as const;

/** `--limit N --cursor C`: one page of `audit query`. */
export const PAGE_FLAGS = {
  limit: { type: 'string' },
  cursor: { type: 'string' },
} as const;

/** The query the given flag values describe; a bad value is a usage error naming its flag. */
export function filtersFromFlags(values: Readonly<Record<string, unknown>>): AuditQuery {
  try {
    return parseAuditFilters((name) => (typeof values[name] === 'string' ? (values[name] as string) : undefined));
  } catch (err) {
    if (err instanceof AuditFilterError) throw new CliError(`--${err.message}`);
    throw err;
  }
}
