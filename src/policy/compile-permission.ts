import { compileArgsConstraint, type ArgsConstraint } from './args-constraint.js';
import { parseCidr, type Cidr } from './cidr.js';
import {
  formatPath,
  permissionInputSchema,
  zodErrors,
  type NormalizedPermission,
  type PolicyInputError,
} from './permission-schema.js';
import { HOUR_MS, DAY_MS, type RateRule } from './rate-limiter.js';
import { parseResourcePattern, type ResourcePattern } from './resource-pattern.js';
import { compileTimeWindow, type TimeWindow } from './time-window.js';
import { ACTION_BIT, type GrantEffect, type PolicyAction } from './types.js';

/**
 * A grant ready for the decision path: every pattern, regex, CIDR and zone already parsed, so
 * deciding is comparisons only, and a grant that could fail at call time cannot exist.
 */
export interface CompiledPermission {
  readonly id: string;
  readonly resource: string;
  readonly pattern: ResourcePattern;
  /** Bit set of `ACTION_BIT`. */
  readonly actionMask: number;
  readonly effect: GrantEffect;
  /** Instant the grant stops applying; `Infinity` when it never expires. */
  readonly expiresAt: number;
  readonly window: TimeWindow | null;
  readonly ipAllowlist: readonly Cidr[] | null;
  readonly args: ArgsConstraint | null;
  readonly requireApproval: boolean;
  /** Rolling-window limits counted against this grant (hour, day). */
  readonly rates: readonly RateRule[];
  /** The validated input, for the admin API and for persisting. */
  readonly source: NormalizedPermission;
}

/** Compiled value, or every validation problem at once. */
export type CompileResult<T> =
  | { readonly ok: true; readonly compiled: T }
  | { readonly ok: false; readonly errors: readonly PolicyInputError[] };

/** Constraints a deny grant may carry: a deny is unconditional except for when it lapses. */
const DENY_CONSTRAINTS = new Set(['expiresAt']);

/**
 * Validates and compiles one permission when it is saved (and again when the store is loaded).
 * A grant it refuses never reaches the decision path.
 */
export function compilePermission(input: unknown): CompileResult<CompiledPermission> {
  const parsed = permissionInputSchema.safeParse(input);
  if (!parsed.success) return { ok: false, errors: zodErrors(parsed.error) };
  const p = parsed.data;
  const c = p.constraints;
  const errors: PolicyInputError[] = [];

  const pattern = parseResourcePattern(p.resource);
  if (!pattern.ok) errors.push({ path: 'resource', message: pattern.message });

  if (p.effect === 'deny') {
    for (const [key, value] of Object.entries(c)) {
      // `requireApproval: false` says nothing, so it is harmless on a deny.
      if (value !== undefined && !DENY_CONSTRAINTS.has(key) && !(key === 'requireApproval' && value === false)) {
        errors.push({
          path: formatPath(['constraints', key]),
          message: 'a deny grant is unconditional; only expiresAt may be set (narrow allows instead)',
        });
      }
    }
  }

  let window: TimeWindow | null = null;
  if (c.timeWindow !== undefined) {
    const compiled = compileTimeWindow(c.timeWindow);
    if (compiled.ok) window = compiled.window;
    else errors.push({ path: `constraints.timeWindow.${compiled.field}`, message: compiled.message });
  }

  let ipAllowlist: Cidr[] | null = null;
  if (c.ipAllowlist !== undefined) {
    ipAllowlist = [];
    c.ipAllowlist.forEach((text, i) => {
      const cidr = parseCidr(text);
      if (cidr.ok) ipAllowlist?.push(cidr.cidr);
      else errors.push({ path: formatPath(['constraints', 'ipAllowlist', i]), message: cidr.message });
    });
  }

  let args: ArgsConstraint | null = null;
  if (c.args !== undefined) {
    const compiled = compileArgsConstraint(c.args);
    if (compiled.ok) args = compiled.constraint;
    else {
      for (const e of compiled.errors) {
        const path = ['constraints', 'args', e.pointer, ...(e.rule === null ? [] : [e.rule])];
        errors.push({ path: formatPath(path), message: e.message });
      }
    }
  }

  if (!pattern.ok || errors.length > 0) return { ok: false, errors };

  let actionMask = 0;
  for (const action of p.actions as PolicyAction[]) actionMask |= ACTION_BIT[action];
  const rates: RateRule[] = [];
  if (c.maxCallsPerHour !== undefined) {
    rates.push(Object.freeze({ key: `${p.id}/hour`, limit: c.maxCallsPerHour, windowMs: HOUR_MS, label: 'hour' }));
  }
  if (c.maxCallsPerDay !== undefined) {
    rates.push(Object.freeze({ key: `${p.id}/day`, limit: c.maxCallsPerDay, windowMs: DAY_MS, label: 'day' }));
  }
  const compiled: CompiledPermission = {
    id: p.id,
    resource: p.resource,
    pattern: pattern.pattern,
    actionMask,
    effect: p.effect,
    expiresAt: c.expiresAt ?? Number.POSITIVE_INFINITY,
    window,
    ipAllowlist: ipAllowlist === null ? null : Object.freeze(ipAllowlist),
    args,
    requireApproval: c.requireApproval === true,
    rates: Object.freeze(rates),
    source: deepFreeze(p),
  };
  return { ok: true, compiled: Object.freeze(compiled) };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
