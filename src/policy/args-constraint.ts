import { MISSING, parseJsonPointer, resolveJsonPointer } from './json-pointer.js';
import { compileSafeRegex, type SafeRegex } from './safe-regex.js';

/**
 * Argument constraints: JSON pointer → rules. Every rule on a pointer must hold, and a pointer
 * that names nothing fails (a constraint the caller can dodge by omitting the field would be no
 * constraint). Everything is compiled when the grant is saved; checking is value comparisons
 * and one linear-time regex test.
 */

/** The rules one pointer may carry, as accepted from the admin API. */
export interface ArgRuleInput {
  equals?: unknown;
  oneOf?: unknown[];
  pattern?: string;
  min?: number;
  max?: number;
  maxLength?: number;
}

interface CompiledArgRule {
  readonly pointer: string;
  readonly tokens: readonly string[];
  readonly equals: { readonly key: unknown } | null;
  readonly oneOf: ReadonlySet<unknown> | null;
  readonly pattern: SafeRegex | null;
  readonly min: number | null;
  readonly max: number | null;
  readonly maxLength: number | null;
}

/** Compiled argument constraints of one grant. */
export interface ArgsConstraint {
  readonly rules: readonly CompiledArgRule[];
}

/** A rule that did not compile: which pointer, which rule (`null` = the pointer itself). */
export interface ArgsCompileError {
  readonly pointer: string;
  readonly rule: string | null;
  readonly message: string;
}

/** Compiles `pointer → rules`; errors name the pointer and rule so the admin sees which one. */
export function compileArgsConstraint(
  input: Readonly<Record<string, ArgRuleInput>>,
): { ok: true; constraint: ArgsConstraint } | { ok: false; errors: ArgsCompileError[] } {
  const errors: ArgsCompileError[] = [];
  const rules: CompiledArgRule[] = [];
  for (const [pointer, rule] of Object.entries(input)) {
    const parsed = parseJsonPointer(pointer);
    if (!parsed.ok) {
      errors.push({ pointer, rule: null, message: parsed.message });
      continue;
    }
    let pattern: SafeRegex | null = null;
    if (rule.pattern !== undefined) {
      const compiled = compileSafeRegex(rule.pattern);
      if (compiled.ok) pattern = compiled.regex;
      else errors.push({ pointer, rule: 'pattern', message: compiled.message });
    }
    if (rule.min !== undefined && rule.max !== undefined && rule.min > rule.max) {
      errors.push({ pointer, rule: 'min', message: 'min is greater than max' });
    }
    rules.push(
      Object.freeze({
        pointer,
        tokens: parsed.tokens,
        equals: rule.equals === undefined ? null : { key: comparisonKey(rule.equals) },
        oneOf: rule.oneOf === undefined ? null : new Set(rule.oneOf.map(comparisonKey)),
        pattern,
        min: rule.min ?? null,
        max: rule.max ?? null,
        maxLength: rule.maxLength ?? null,
      }),
    );
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, constraint: Object.freeze({ rules: Object.freeze(rules) }) };
}

/**
 * Checks the call's arguments; returns `undefined` when every rule holds, otherwise a phrase
 * saying which rule failed (it ends up in the denial reason, so it never echoes the value).
 */
export function checkArgs(constraint: ArgsConstraint, args: unknown): string | undefined {
  for (const rule of constraint.rules) {
    const value = resolveJsonPointer(args, rule.tokens);
    const label = `argument ${rule.pointer === '' ? '(whole arguments)' : rule.pointer}`;
    if (value === MISSING) return `${label} is missing`;
    if (rule.equals !== null && comparisonKey(value) !== rule.equals.key) return `${label} is not the allowed value`;
    if (rule.oneOf !== null && !rule.oneOf.has(comparisonKey(value))) return `${label} is not one of the allowed values`;
    if (rule.pattern !== null && (typeof value !== 'string' || !rule.pattern.test(value))) {
      return `${label} does not match pattern ${rule.pattern.source}`;
    }
    if (rule.min !== null || rule.max !== null) {
      if (typeof value !== 'number' || !Number.isFinite(value)) return `${label} is not a number`;
      if (rule.min !== null && value < rule.min) return `${label} is below ${rule.min}`;
      if (rule.max !== null && value > rule.max) return `${label} is above ${rule.max}`;
    }
    if (rule.maxLength !== null) {
      if (typeof value !== 'string' && !Array.isArray(value)) return `${label} has no length`;
      if (value.length > rule.maxLength) return `${label} is longer than ${rule.maxLength}`;
    }
  }
  return undefined;
}

/**
 * A value usable with `===` and in a Set: primitives stand for themselves, objects and arrays
 * become canonical JSON (keys sorted) so `{a:1,b:2}` equals `{b:2,a:1}`. The `\u0000` prefix keeps
 * a canonical object apart from a string argument that happens to spell the same JSON.
 */
function comparisonKey(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  return `\u0000${canonicalJson(value)}`;
}

function canonicalJson(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  const record = value as Record<string, unknown>;
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}
