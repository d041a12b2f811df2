import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { CliError } from './command.js';
import { FILTER_FLAGS, filtersFromFlags } from './audit-filters.js';
import { loadAuditSource, requireAuditLog } from './audit-source.js';

/**
 * `portcullis audit export --format jsonl|csv [filters] [--out FILE]`: every matching row, oldest
 * first, streamed a page at a time (`store/audit-query.ts`), so a log of any size exports in
 * flat memory. To stdout unless `--out` names a file.
 */
export async function runAuditExport(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, format: { type: 'string' }, out: { type: 'string', short: 'o' }, ...FILTER_FLAGS },
  });
  const format = values.format;
  if (format !== 'jsonl' && format !== 'csv') throw new CliError('--format must be jsonl or csv');
  const query = filtersFromFlags(values);
  const source = await loadAuditSource(values.config);
  try {
    await requireAuditLog(source);
    const out: Writable = values.out === undefined ? process.stdout : createWriteStream(values.out);
    try {
      await pipeline(source.reader.export(query, format), out);
    } catch (err) {
      // A reader that stopped early (`… | head`) is not a failed export.
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') return 0;
      throw new CliError(`export failed: ${(err as Error).message}`, 1);
    }
    return 0;
  } finally {
    await source.reader.close();
  }
}
