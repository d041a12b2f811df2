import { z } from 'zod';
import { MAX_PATTERN_LENGTH } from './resource-pattern.js';
import { MAX_REGEX_LENGTH } from './safe-regex.js';
import { WEEKDAYS } from './time-window.js';

/**
 * The shape of a permission as the admin API and the store hand it over. zod checks the shape
 * and bounds; what zod cannot say (pattern syntax, RE2 support, CIDRs, zones, pointer escapes)
 * is checked by `compilePermission`, which also reports through `{ path, message }`.
 * Objects are strict: a misspelt constraint must be an error, not a silently missing limit.
 */

const argRule = z
  .strictObject({
    equals: z.json().optional(),
    oneOf: z.array(z.json()).min(1).max(1000).optional(),
    pattern: z.string().max(MAX_REGEX_LENGTH, `pattern is longer than ${MAX_REGEX_LENGTH} characters`).optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    maxLength: z.number().int().nonnegative().optional(),
  })
  .refine((r) => Object.values(r).some((v) => v !== undefined), 'give at least one rule');

const timeWindow = z.strictObject({
  timeZone: z.string().min(1).max(64).default('UTC'),
  days: z.array(z.enum(WEEKDAYS)).min(1).max(7).optional(),
  hours: z.strictObject({ from: z.string(), to: z.string() }).optional(),
});

/** Epoch milliseconds; the store's nullable columns arrive as `null`. */
const instant = z.number().int().nonnegative();

const constraints = z.strictObject({
  maxCallsPerHour: z.number().int().positive().max(1e9).optional(),
  maxCallsPerDay: z.number().int().positive().max(1e9).optional(),
  args: z
    .record(z.string().max(256), argRule)
    .refine((r) => Object.keys(r).length <= 64, 'at most 64 argument pointers')
    .optional(),
  timeWindow: timeWindow.optional(),
  ipAllowlist: z.array(z.string().max(64)).min(1).max(256).optional(),
  requireApproval: z.boolean().optional(),
  expiresAt: instant.nullable().optional(),
});

/** Input schema of one permission (grant). */
export const permissionInputSchema = z.strictObject({
  id: z.string().min(1).max(128),
  resource: z.string().min(1).max(MAX_PATTERN_LENGTH),
  actions: z.array(z.enum(['call', 'read', 'get', 'list'])).min(1).max(4),
  effect: z.enum(['allow', 'deny']).default('allow'),
  constraints: constraints.default({}),
});

/** What callers may pass (`effect` and `constraints` are optional). */
export type PermissionInput = z.input<typeof permissionInputSchema>;
/** The normalized form kept on a compiled grant (and what the store should persist). */
export type NormalizedPermission = z.output<typeof permissionInputSchema>;

/** A validation problem: `path` names the field (`constraints.args["/repo"].pattern`). */
export interface PolicyInputError {
  readonly path: string;
  readonly message: string;
}

/** Renders a zod path (or any key list) the way a person would write it. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/** zod issues as `{ path, message }`. */
export function zodErrors(error: z.ZodError): PolicyInputError[] {
  return error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
}
