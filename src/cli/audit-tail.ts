import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { AuditQuery } from '../store/audit-query.js';
import type { AuditReader } from '../store/audit-reader.js';
import type { AuditEntry } from '../store/audit-record.js';
import { CliError } from './command.js';
import { FILTER_FLAGS, filtersFromFlags } from './audit-filters.js';
import { formatAuditLine } from './audit-rows.js';
import { loadAuditSource, requireAuditLog } from './audit-source.js';

/**
 * How often `tail -f` looks for new rows. A read of an idle WAL database costs a few µs, so
 * this is about latency only; a quarter second feels live without spinning.
 */
const POLL_MS = 250;
const PAGE = 1000;

/**
 * `portcullis audit tail [-n N] [-f] [filters] [--json]`: the last N rows (default 20), oldest
 * first; with `-f`, then every new row as it is committed, until SIGINT or SIGTERM (exit 0).
 * `--json` prints one JSON object per line (JSON Lines), so the output can be piped as it grows.
 */
export async function runAuditTail(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean', default: false },
      follow: { type: 'boolean', short: 'f', default: false },
      lines: { type: 'string', short: 'n' },
      ...FILTER_FLAGS,
    },
  });
  const lines = values.lines === undefined ? 20 : Number(values.lines);
  if (!/^\d+$/.test(values.lines ?? '20') || lines > PAGE) throw new CliError(`-n must be an integer from 0 to ${PAGE}`);
  const filters = filtersFromFlags(values);
  const print = (e: AuditEntry) => process.stdout.write(`${values.json ? JSON.stringify(e) : formatAuditLine(e)}\n`);

  // Signals are taken before the first read, so a stop that arrives early still ends cleanly.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  if (values.follow) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  const source = await loadAuditSource(values.config);
  const { reader } = source;
  try {
    await requireAuditLog(source);
    let cursor = await printLast(reader, filters, lines, print);
    while (values.follow && !stop.signal.aborted) {
      const page = await reader.query({ ...filters, cursor: String(cursor), limit: PAGE, order: 'asc' });
      for (const e of page.entries) print(e);
      cursor = page.entries.at(-1)?.seq ?? cursor;
      // A full page means more is waiting: read on at once rather than falling behind.
      if (page.nextCursor !== null) continue;
      await sleep(POLL_MS, undefined, { signal: stop.signal }).catch(() => undefined);
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await reader.close();
  }
}

/** Prints the last `n` matching rows; returns the seq polling continues after. */
async function printLast(reader: AuditReader, filters: AuditQuery, n: number, print: (e: AuditEntry) => void): Promise<number> {
  // The head of the whole log, not of the matching rows: polling then scans only rows written
  // after this point, however rare the matches.
  const head = (await reader.query({ order: 'desc', limit: 1 })).entries[0]?.seq ?? 0;
  const last = n === 0 ? [] : (await reader.query({ ...filters, order: 'desc', limit: n })).entries.reverse();
  for (const e of last) print(e);
  // A row committed between the two reads may already have been printed; never print it twice.
  return Math.max(head, last.at(-1)?.seq ?? 0);
}
