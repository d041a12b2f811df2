import { existsSync } from 'node:fs';
import { loadConfig } from '../config/load-config.js';
import type { GatewayConfig } from '../config/parse-config.js';

/** One `portcullis <name> …` command; it parses its own flags and returns the exit code. */
export interface CliCommand {
  readonly name: string;
  /** One line for the main help. */
  readonly summary: string;
  run(argv: string[]): Promise<number>;
}

/** A usage or input error the user can fix: printed without a stack, exit code 2 (or as given). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Flags every store-backed command takes: which config to open, and JSON output for scripts. */
export const COMMON_OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean', default: false },
} as const;

const DEFAULT_CONFIGS = ['gateway.config.ts', 'gateway.config.mjs', 'gateway.config.js', 'gateway.config.json'];

/** The config every command works from: `--config FILE`, or the first default that exists. */
export async function loadCliConfig(flag: string | undefined, overrides: { port?: number } = {}): Promise<GatewayConfig> {
  const file = flag ?? DEFAULT_CONFIGS.find((f) => existsSync(f));
  if (!file) throw new CliError(`no config file found (looked for ${DEFAULT_CONFIGS.join(', ')}); pass --config FILE`);
  return loadConfig(file, overrides);
}

/** Prints rows as an aligned table for people, or as JSON for scripts. */
export function printRows(rows: readonly Record<string, unknown>[], columns: readonly string[], json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  process.stdout.write(`${line(columns.map((c) => c.toUpperCase()))}\n`);
  for (const r of rows) process.stdout.write(`${line(columns.map((c) => cell(r[c])))}\n`);
}
