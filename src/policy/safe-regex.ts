import { RE2JS } from 're2js';

/**
 * The one module that knows about re2js. Argument patterns come from admins and are matched
 * against caller-controlled strings, so a backtracking engine would be a ReDoS lever; RE2 runs
 * in time linear in the input and refuses constructs (backreferences, lookarounds) that cannot.
 */

/** Longest pattern source accepted when a grant is saved. */
export const MAX_REGEX_LENGTH = 512;

/** A compiled pattern. `test` matches the whole string (anchored both ends). */
export interface SafeRegex {
  readonly source: string;
  test(input: string): boolean;
}

/** A compiled pattern, or why RE2 cannot run it. */
export type CompileRegexResult =
  | { readonly ok: true; readonly regex: SafeRegex }
  | { readonly ok: false; readonly message: string };

/*
 * Compiled patterns, shared by every grant using the same source: an RE2 program takes ~10 µs
 * and several KB to build, and a million grants typically use a handful of patterns. Matching
 * is synchronous and keeps no per-call state, so sharing is safe. Like the time-zone clocks,
 * this memo is a pure function of its key; it is bounded and simply starts over when full.
 */
const MEMO_LIMIT = 4096;
const memo = new Map<string, SafeRegex>();

/** Compiles `source` with RE2 semantics, or says why it cannot be used. */
export function compileSafeRegex(source: string): CompileRegexResult {
  if (source.length > MAX_REGEX_LENGTH) {
    return { ok: false, message: `pattern is longer than ${MAX_REGEX_LENGTH} characters` };
  }
  const known = memo.get(source);
  if (known !== undefined) return { ok: true, regex: known };
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(source);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    return { ok: false, message: `pattern is not supported by RE2: ${detail}` };
  }
  const regex: SafeRegex = Object.freeze({ source, test: (input: string) => compiled.testExact(input) });
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(source, regex);
  return { ok: true, regex };
}
