/**
 * A single pass over JSON text, before `JSON.parse`, that bounds nesting depth and counts object
 * members. `JSON.parse` silently keeps the last of two duplicate keys; comparing this count with
 * the keys of the parsed tree finds duplicates without a second, slower parser (a policy check and
 * an upstream that disagree about `{"name":"a","name":"b"}` is exactly the differential to refuse).
 * It also notes what decides whether the text can be forwarded as it came (`exactNumbers`,
 * `topMembers`).
 *
 * hot path: one charCodeAt loop, no allocation.
 */
export type ScanResult =
  | {
      ok: true;
      members: number;
      /** Members of the outermost object: more than the known ones means extra members were sent. */
      topMembers: number;
      /**
       * Every number is an integer of at most 15 digits, which any JSON parser (doubles or
       * bignums) reads as written. A fraction, an exponent or a longer integer may not be.
       */
      exactNumbers: boolean;
    }
  | { ok: false; reason: 'too_deep' };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const OPEN_OBJ = 0x7b;
const OPEN_ARR = 0x5b;
const CLOSE_OBJ = 0x7d;
const CLOSE_ARR = 0x5d;
const ZERO = 0x30;
const NINE = 0x39;
const DOT = 0x2e;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

export function scanJson(text: string, maxDepth: number): ScanResult {
  let depth = 0;
  let members = 0;
  let topMembers = 0;
  let inString = false;
  let digits = 0;
  let exactNumbers = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c >= ZERO && c <= NINE) {
      if (++digits > 15) exactNumbers = false;
      continue;
    }
    // Outside strings a dot only occurs in a number, and an e right after a digit is an exponent.
    if (c === DOT || (digits > 0 && (c === LOWER_E || c === UPPER_E))) exactNumbers = false;
    digits = 0;
    if (c === QUOTE) inString = true;
    else if (c === COLON) {
      members++;
      if (depth === 1) topMembers++;
    } else if (c === OPEN_OBJ || c === OPEN_ARR) {
      if (++depth > maxDepth) return { ok: false, reason: 'too_deep' };
    } else if (c === CLOSE_OBJ || c === CLOSE_ARR) depth--;
  }
  return { ok: true, members, topMembers, exactNumbers };
}

/**
 * Counts the keys of a parsed tree; returns -1 when a `__proto__` key is present, which is
 * refused outright so no later merge or spread can be steered by it.
 */
export function countKeys(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let total = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const n = countKeys(value[i]);
      if (n < 0) return -1;
      total += n;
    }
    return total;
  }
  for (const key in value) {
    if (key === '__proto__') return -1;
    const n = countKeys((value as Record<string, unknown>)[key]);
    if (n < 0) return -1;
    total += n + 1;
  }
  return total;
}
