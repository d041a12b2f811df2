import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRedaction, digestArguments, redactArguments, REDACTED } from '../../src/store/audit-args.js';
import { canonicalAuditRow, canonicalJson, GENESIS_HASH, hashAuditRow, sha256Hex } from '../../src/store/audit-chain.js';
import { isCheckpointSigned, signCheckpoint } from '../../src/store/audit-checkpoint.js';

describe('canonicalJson (RFC 8785 rules)', () => {
  it.each<[string, unknown, string]>([
    ['sorted keys, no whitespace', { b: 1, a: [true, null, 'x'] }, '{"a":[true,null,"x"],"b":1}'],
    ['nested objects sorted too', { z: { y: 1, x: 2 } }, '{"z":{"x":2,"y":1}}'],
    ['keys by UTF-16 code units', { 'é': 1, z: 2, A: 3 }, '{"A":3,"z":2,"é":1}'],
    ['ECMAScript numbers', [1e21, 0.1, -0, 5e-7, 100], '[1e+21,0.1,0,5e-7,100]'],
    ['string escapes', 'a"b\\c\n\u0001', '"a\\"b\\\\c\\n\\u0001"'],
    ['undefined members skipped', { a: undefined, b: 2 }, '{"b":2}'],
  ])('%s', (_name, value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it.each<[string, unknown]>([
    ['NaN', NaN],
    ['Infinity', [Infinity]],
    ['bigint', 1n],
    ['undefined in an array', [undefined]],
    ['function', () => 1],
  ])('rejects %s', (_name, value) => {
    expect(() => canonicalJson(value)).toThrow(TypeError);
  });
});

describe('row hash', () => {
  const row = { seq: 1, time: 5, kind: 'attempt', request_key: 'k', agent: null, prev_hash: 'p', hash: 'h' };

  it('covers non-null columns except prev_hash and hash, so a later nullable column keeps old hashes', () => {
    expect(canonicalAuditRow(row)).toBe('{"kind":"attempt","request_key":"k","seq":1,"time":5}');
    expect(hashAuditRow({ ...row, added_later: null }, GENESIS_HASH)).toBe(hashAuditRow(row, GENESIS_HASH));
  });

  it('equals canonicalJson of the non-null hashed columns, for any row', () => {
    const value = fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(null));
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1 }), value), (row) => {
        const fields = Object.fromEntries(
          Object.entries(row).filter(([k, v]) => v !== null && k !== 'prev_hash' && k !== 'hash'),
        );
        expect(canonicalAuditRow(row)).toBe(canonicalJson(fields));
      }),
      { numRuns: 300 },
    );
  });

  it('is SHA-256 over the canonical row followed by the previous hash', () => {
    expect(hashAuditRow(row, GENESIS_HASH)).toBe(sha256Hex(canonicalAuditRow(row) + GENESIS_HASH));
    expect(hashAuditRow(row, 'f'.repeat(64))).not.toBe(hashAuditRow(row, GENESIS_HASH));
    expect(hashAuditRow({ ...row, seq: 2 }, GENESIS_HASH)).not.toBe(hashAuditRow(row, GENESIS_HASH));
  });
});

describe('checkpoint signatures', () => {
  const secret = 's'.repeat(32);
  const c = { kind: 'head' as const, seq: 10, headHash: 'a'.repeat(64), time: 1 };

  it('verify with the secret and break on any field', () => {
    const signed = { ...c, signature: signCheckpoint(secret, c) };
    expect(isCheckpointSigned(secret, signed)).toBe(true);
    expect(isCheckpointSigned('t'.repeat(32), signed)).toBe(false);
    expect(isCheckpointSigned(secret, { ...signed, seq: 11 })).toBe(false);
    expect(isCheckpointSigned(secret, { ...signed, kind: 'prune' })).toBe(false);
    expect(isCheckpointSigned(secret, { ...signed, signature: 'zz' })).toBe(false);
  });
});

describe('arguments', () => {
  const redact = compileRedaction(['password', 'token', 'secret', 'authorization', 'apiKey']);

  it.each<[string, boolean]>([
    ['password', true],
    ['Password', true],
    ['access_token', true],
    ['X-Auth-Token', true],
    ['client_secret', true],
    ['Authorization', true],
    ['api_key', true],
    ['repo', false],
    ['title', false],
  ])('redacts key %s: %s', (key, hit) => {
    expect(redact(key)).toBe(hit);
  });

  it('redacts at any depth and in arrays, leaving the input untouched', () => {
    const input = { a: [{ token: 1, ok: 2 }], b: { c: { password: 'x', d: 'keep' } } };
    expect(redactArguments(input, redact)).toEqual({
      a: [{ token: REDACTED, ok: 2 }],
      b: { c: { password: REDACTED, d: 'keep' } },
    });
    expect(input.b.c.password).toBe('x');
  });

  it('keeps a __proto__ key as data', () => {
    const input = JSON.parse('{"__proto__":{"password":"x"}}');
    const out = redactArguments(input, redact) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"password":"[REDACTED]"}}');
  });

  it('digests independently of key order; no arguments, no digest', () => {
    expect(digestArguments({ a: 1, b: 2 })).toBe(digestArguments({ b: 2, a: 1 }));
    expect(digestArguments({ a: 1 })).not.toBe(digestArguments({ a: 2 }));
    expect(digestArguments(undefined)).toBeNull();
  });
});
