import { canonicalJson, sha256Hex } from './audit-chain.js';

/**
 * What the audit log keeps of a call's arguments: always a digest of the full arguments, and the
 * arguments themselves only when the call is configured to keep them, with secret-looking keys
 * redacted at any depth. Runs in the audit worker, off the event loop.
 */

/** Keys redacted by default (matched as described at {@link compileRedaction}). */
export const DEFAULT_REDACT_KEYS: readonly string[] = [
  'password',
  'passwd',
  'secret',
  'token',
  'authorization',
  'apikey',
  'cookie',
  'privatekey',
  'credential',
];

/** The value a redacted key's value is replaced with. */
export const REDACTED = '[REDACTED]';

/** A compiled redaction rule: true when a key's value must not be stored. */
export type RedactionRule = (key: string) => boolean;

const normaliseKey = (key: string): string => key.toLowerCase().replace(/[-_\s.]/g, '');

/**
 * Compiles redaction keys. A key is redacted when, lower-cased and stripped of `-`, `_`, `.` and
 * spaces, it contains one of the patterns (normalised the same way): `token` catches
 * `access_token`, `X-Auth-Token` and `refreshToken`; `apiKey` catches `api_key`. Matching by
 * containment over-redacts (`max_tokens`) rather than leak; the digest still covers the value.
 */
export function compileRedaction(keys: readonly string[]): RedactionRule {
  const patterns = [...new Set(keys.map(normaliseKey).filter((k) => k.length > 0))];
  const cache = new Map<string, boolean>();
  return (key) => {
    let hit = cache.get(key);
    if (hit === undefined) {
      const k = normaliseKey(key);
      hit = patterns.some((p) => k.includes(p));
      if (cache.size < 10_000) cache.set(key, hit);
    }
    return hit;
  };
}

/** A deep copy of a JSON value with the values of redacted keys replaced by {@link REDACTED}. */
export function redactArguments(value: unknown, redact: RedactionRule): unknown {
  if (Array.isArray(value)) return value.map((v) => redactArguments(v, redact));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      // defineProperty, not assignment: a `__proto__` key must stay data, not become a prototype.
      Object.defineProperty(out, key, {
        value: redact(key) ? REDACTED : redactArguments(v, redact),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

/** Hex SHA-256 of the canonical JSON of the full arguments; null when the call had none. */
export function digestArguments(args: unknown): string | null {
  return args === undefined ? null : sha256Hex(canonicalJson(args));
}
