import { parseArgs } from 'node:util';
import { printRows } from './command.js';
import { FILTER_FLAGS, PAGE_FLAGS, filtersFromFlags } from './audit-filters.js';
import { AUDIT_COLUMNS, displayRow } from './audit-rows.js';
import { loadAuditSource, requireAuditLog } from './audit-source.js';

/**
 * `portcullis audit query [filters] [--limit N] [--cursor C] [--json]`: one page, oldest first.
 * A table for people, with the next page's `--cursor` on stderr; `--json` prints
 * `{ rows, nextCursor }`, the very shape `GET /admin/audit` answers.
 */
export async function runAuditQuery(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean', default: false }, ...FILTER_FLAGS, ...PAGE_FLAGS },
  });
  const query = filtersFromFlags(values);
  const source = await loadAuditSource(values.config);
  try {
    await requireAuditLog(source);
    const page = await source.reader.query(query);
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ rows: page.entries, nextCursor: page.nextCursor }, null, 2)}\n`);
      return 0;
    }
    printRows(page.entries.map(displayRow), AUDIT_COLUMNS, false);
    // On stderr, so piping the table somewhere keeps only the table.
    if (page.nextCursor !== null) process.stderr.write(`more rows: repeat with --cursor ${page.nextCursor}\n`);
    return 0;
  } finally {
    await source.reader.close();
  }
}
