import { userInfo } from 'node:os';
import { formatFieldError, isAdminError } from '../admin/admin-error.js';
import { createPolicyAdmin, type PolicyAdmin } from '../admin/policy-admin.js';
import { openStore } from '../store/open-store.js';
import { CliError, loadCliConfig, printRows } from './command.js';

/**
 * What the policy commands share: the admin service over the store named by `--config` (the
 * very code path the admin API uses), error mapping, and output helpers. A CLI change is written
 * to the store with its change-log row; a running gateway picks it up within one poll interval.
 */

/** `cli:<os user>`, stored as `created_by`. */
function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

/**
 * Runs `fn` with an admin service on the configured store, closing the store afterwards. Refusals
 * become exit code 1 with every field error on its own line.
 */
export async function withPolicyAdmin<T>(configFlag: string | undefined, fn: (admin: PolicyAdmin) => Promise<T>): Promise<T> {
  const config = await loadCliConfig(configFlag);
  const store = await openStore(config.database);
  try {
    const admin = createPolicyAdmin({
      store,
      now: Date.now,
      actor: cliActor(),
      agents: {
        maxPerUser: config.agents.maxPerUser,
        defaultPermissions: config.agents.defaultPermissions,
        tokenExpiry: config.agents.tokenExpiry,
      },
    });
    return await fn(admin);
  } catch (err) {
    if (isAdminError(err)) {
      const lines = err.errors.length === 0 ? err.message : [`${err.summary}:`, ...err.errors.map((e) => `  ${formatFieldError(e)}`)].join('\n');
      throw new CliError(lines, 1);
    }
    throw err;
  } finally {
    await store.close();
  }
}

/** Parses a JSON option, or fails with exit code 1 naming the option. */
export function parseJsonOption(name: string, text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(`--${name} is not valid JSON: ${(err as Error).message}`, 1);
  }
}

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * An instant from the command line: `+30m`, `+12h`, `+7d` from now, a date (`2026-01-31`, UTC
 * midnight), or an ISO date-time passed on for the admin service to validate.
 */
export function parseWhen(text: string | undefined, now: number): string | number | undefined {
  if (text === undefined) return undefined;
  const relative = /^\+(\d+)([smhd])$/.exec(text);
  if (relative !== null) return now + Number(relative[1]) * UNIT_MS[relative[2]];
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return `${text}T00:00:00Z`;
  return text;
}

/** A comma-separated list option (`call,read`). */
export function parseList(text: string | undefined): string[] | undefined {
  return text === undefined ? undefined : text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** Exactly `count` positionals, or a usage error showing `usage`. */
export function positionals(list: readonly string[], count: number, usage: string): string[] {
  if (list.length < count) throw new CliError(`missing argument(s); usage: portcullis ${usage}`);
  if (list.length > count) throw new CliError(`unexpected argument "${list[count]}"; usage: portcullis ${usage}`);
  return [...list];
}

const TIME_KEYS = new Set(['expiresAt', 'createdAt', 'startsAt', 'revokedAt', 'periodStart', 'notBefore', 'notAfter']);

/** Rows for people: instants as ISO strings (JSON output keeps epoch ms). */
function humanize(row: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    out[key] = TIME_KEYS.has(key) && typeof value === 'number' && Number.isFinite(value) ? new Date(value).toISOString() : value;
  }
  return out;
}

/** Prints rows as a table (`columns`) or, with `--json`, the rows as they are. */
export function printPolicyRows<T extends object>(rows: readonly T[], columns: readonly string[], json: boolean): void {
  const records = rows as readonly object[] as readonly Record<string, unknown>[];
  printRows(json ? records : records.map(humanize), columns, json);
}

/** Prints one value as JSON (for `--json` on single results). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Column sets shared by the commands. */
export const COLUMNS = {
  agent: ['id', 'name', 'type', 'status', 'userId', 'tenant', 'clientId', 'expiresAt'],
  permission: ['id', 'agentId', 'resource', 'actions', 'effect', 'constraints', 'expiresAt', 'createdBy'],
  delegation: ['id', 'parentAgentId', 'childAgentId', 'maxDepth', 'startsAt', 'expiresAt', 'revokedAt', 'permissions'],
  budget: ['id', 'scope', 'subject', 'metric', 'period', 'limit', 'used', 'periodStart'],
} as const;
