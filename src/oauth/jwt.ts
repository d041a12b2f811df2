import {
  calculateJwkThumbprint,
  createRemoteJWKSet,
  decodeJwt,
  errors,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';

/**
 * The one module that imports jose (house style §11): key generation, signing and verification
 * of JWTs. Everything jose throws is turned into a `JwtFailure` value here, so callers never see
 * jose's error classes.
 */

export type { CryptoKey, JWK, JWTPayload };

/** A freshly generated ES256 key pair, as stored. */
export interface GeneratedKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

/** Why a JWT was refused. */
export type JwtFailure =
  | 'malformed'
  | 'alg_not_allowed'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'claim_invalid';

export type VerifyJwtResult =
  | { ok: true; payload: JWTPayload; kid: string | undefined }
  | { ok: false; failure: JwtFailure; message: string };

export interface VerifyJwtOptions {
  algorithms: readonly string[];
  issuer: string;
  /** Required `typ` header (RFC 9068 §2.1: `at+jwt`); undefined skips the check. */
  typ?: string;
  now: number;
  clockToleranceSec: number;
  requiredClaims?: readonly string[];
}

/** A trusted external issuer's JWKS, fetched and cached by jose. */
export type RemoteKeySet = ReturnType<typeof createRemoteJWKSet>;

/**
 * Where verification keys come from: our own keys by `kid`, or a trusted issuer's JWKS. Headers
 * never supply keys: `jwk`, `jku` and `x5u` are ignored (RFC 8725 §3.10).
 */
export type KeySource = { local: (kid: string | undefined) => CryptoKey | undefined } | { remote: RemoteKeySet };

/** Generates an ES256 key pair; the kid is the RFC 7638 thumbprint of the public key. */
export async function generateEs256Key(): Promise<GeneratedKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = await exportJWK(privateKey);
  return {
    kid,
    privateJwk: { ...privateJwk, kid, alg: 'ES256', use: 'sig' },
    publicJwk: { ...publicJwk, kid, alg: 'ES256', use: 'sig' },
  };
}

/** Imports a stored JWK as a non-extractable key for signing or verifying. */
export async function importKey(jwk: JWK, alg: string): Promise<CryptoKey> {
  const key = await importJWK(jwk, alg, { extractable: false });
  if (key instanceof Uint8Array) throw new TypeError('symmetric keys are not accepted');
  return key;
}

/** Signs claims as a compact JWS with our key; `typ` goes in the protected header. */
export async function signJwt(
  payload: JWTPayload,
  key: { kid: string; alg: string; privateKey: CryptoKey },
  typ: string,
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ }).sign(key.privateKey);
}

/**
 * Verifies a JWT: signature with a key the resolver knows, `alg` in the allow-list (so `none`
 * and HS/RS confusion fail before any key is looked up), `typ`, `iss`, `exp`/`nbf` with the
 * tolerance. The audience is checked by the caller, which knows the resource.
 */
export async function verifyJwt(token: string, keys: KeySource, options: VerifyJwtOptions): Promise<VerifyJwtResult> {
  let kid: string | undefined;
  const getKey: Parameters<typeof jwtVerify>[1] = async (header, input) => {
    kid = header.kid;
    if ('remote' in keys) return keys.remote(header, input);
    const key = keys.local(header.kid);
    if (!key) throw new errors.JWKSNoMatchingKey();
    return key;
  };
  try {
    const { payload } = await jwtVerify(token, getKey, {
      algorithms: [...options.algorithms],
      issuer: options.issuer,
      typ: options.typ,
      currentDate: new Date(options.now),
      clockTolerance: options.clockToleranceSec,
      requiredClaims: options.requiredClaims ? [...options.requiredClaims] : undefined,
    });
    return { ok: true, payload, kid };
  } catch (err) {
    return { ok: false, ...classify(err) };
  }
}

function classify(err: unknown): { failure: JwtFailure; message: string } {
  if (err instanceof errors.JWTExpired) return { failure: 'expired', message: 'token expired' };
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf' || (err.claim === 'iat' && err.reason === 'check_failed')) {
      return { failure: 'not_yet_valid', message: 'token not yet valid' };
    }
    return { failure: 'claim_invalid', message: `claim "${err.claim}" invalid` };
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return { failure: 'alg_not_allowed', message: 'signing algorithm not allowed' };
  if (err instanceof errors.JOSENotSupported) return { failure: 'alg_not_allowed', message: 'signing algorithm not supported' };
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return { failure: 'unknown_key', message: 'signing key not recognised' };
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return { failure: 'bad_signature', message: 'signature invalid' };
  if (err instanceof errors.JOSEError) return { failure: 'malformed', message: 'token malformed' };
  if (err instanceof TypeError) return { failure: 'malformed', message: 'token malformed' };
  throw err;
}

/** Reads the claims without verifying them: only to pick which issuer's keys to verify with. */
export function peekJwtClaims(token: string): JWTPayload | undefined {
  try {
    return decodeJwt(token);
  } catch {
    return undefined;
  }
}

/** A cached remote JWKS for a trusted external issuer (admin-configured URL, not client-supplied). */
export function createRemoteKeySet(url: string, timeoutMs = 5000): RemoteKeySet {
  return createRemoteJWKSet(new URL(url), { timeoutDuration: timeoutMs, cooldownDuration: 30_000 });
}
