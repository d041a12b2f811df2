import { createHash } from 'node:crypto';
import { safeEqual } from './random-token.js';

/**
 * PKCE (RFC 7636), S256 only: OAuth 2.1 §4.1.1 and the MCP spec refuse `plain`, and a missing
 * challenge is refused rather than defaulted.
 */

/** RFC 7636 §4.1: 43–128 characters of [A-Z a-z 0-9 - . _ ~]. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
/** BASE64URL(SHA-256(verifier)) is always 43 characters. */
const CHALLENGE = /^[A-Za-z0-9\-_]{43}$/;

/** Why an authorization request's PKCE parameters are refused, or undefined if they are fine. */
export function pkceRequestProblem(challenge: string | undefined, method: string | undefined): string | undefined {
  if (!challenge) return 'code_challenge is required (PKCE)';
  if (method !== 'S256') return 'code_challenge_method must be S256';
  if (!CHALLENGE.test(challenge)) return 'code_challenge is not a base64url SHA-256 value';
  return undefined;
}

/** Whether a code_verifier matches the stored S256 challenge (RFC 7636 §4.6). */
export function verifyPkce(verifier: string, challenge: string): boolean {
  if (!VERIFIER.test(verifier)) return false;
  return safeEqual(createHash('sha256').update(verifier).digest('base64url'), challenge);
}
