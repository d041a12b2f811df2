/**
 * RFC 8785 (JSON Canonicalization Scheme): object keys sorted by UTF-16 code units, no
 * whitespace, strings and numbers serialised as ECMAScript's `JSON.stringify` does (which is
 * what RFC 8785 §3.2.2 specifies). Two definitions that mean the same JSON hash the same, so an
 * upstream that merely reorders keys is not reported as a changed tool.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('canonical JSON: non-finite number');
    // undefined has no JSON form; callers drop absent members before asking.
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  // Default sort compares UTF-16 code units, exactly the order RFC 8785 §3.2.3 asks for.
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}
