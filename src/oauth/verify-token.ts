import { peekJwtClaims, verifyJwt, type JwtFailure, type JWTPayload } from './jwt.js';
import type { OAuthSettings } from './oauth-settings.js';
import type { SigningKeys } from './signing-keys.js';

/** What a verified access token says, whoever issued it. Times are epoch milliseconds. */
export interface VerifiedToken {
  issuer: string;
  subject: string;
  clientId: string;
  agentId: string;
  /** The single audience (RFC 8707 resource URI). */
  audience: string;
  scopes: readonly string[];
  jti: string;
  expiresAt: number;
  tenant: string | null;
  /** `jti`s of the tokens this one was exchanged from (RFC 8693), oldest first; empty otherwise. */
  derivedFrom: readonly string[];
  claims: JWTPayload;
}

export type TokenVerdict =
  | { ok: true; token: VerifiedToken }
  | { ok: false; failure: JwtFailure | 'unknown_issuer'; message: string };

/** Verifies tokens of an external issuer (see `external-issuers.ts`). */
export type ExternalTokenVerifier = (token: string, issuer: string) => Promise<TokenVerdict> | undefined;

export interface TokenVerifier {
  /** Full verification (≈ 0.3 ms for ES256): call once per token, then cache the result. */
  verifyAccessToken(token: string): Promise<TokenVerdict>;
}

export interface TokenVerifierOptions {
  settings: OAuthSettings;
  keys: SigningKeys;
  clock: () => number;
  /** Seconds of `exp`/`nbf` slack for clock skew between instances. */
  clockToleranceSec?: number;
  external?: ExternalTokenVerifier;
}

/** Only ES256: an HS256 or RS256 token can never be accepted, whatever its header says. */
const OUR_ALGORITHMS = ['ES256'] as const;
const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'agent_id'] as const;
/** Longest exchange lineage a token may carry (the policy engine follows at most 16 links). */
export const MAX_DERIVED_FROM = 16;

/** Builds the verifier for our own RFC 9068 access tokens (and trusted issuers' via `external`). */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const { settings, keys, clock } = options;
  const tolerance = options.clockToleranceSec ?? 30;
  if (tolerance < 0 || tolerance > 300) throw new RangeError('clockToleranceSec must be within 0..300');

  async function verifyOwn(token: string): Promise<TokenVerdict> {
    const run = () =>
      verifyJwt(token, { local: (kid) => keys.verificationKey(kid) }, {
        algorithms: OUR_ALGORITHMS,
        issuer: settings.issuer,
        typ: 'at+jwt', // RFC 9068 §4: refuse ID tokens and other JWTs of ours
        now: clock(),
        clockToleranceSec: tolerance,
        requiredClaims: REQUIRED_CLAIMS,
      });
    let result = await run();
    // Another instance may have rotated in a key we have not loaded yet.
    if (!result.ok && result.failure === 'unknown_key' && (await keys.reloadIfStale())) result = await run();
    if (!result.ok) return result;
    return toVerified(result.payload);
  }

  return {
    async verifyAccessToken(token) {
      const peek = peekJwtClaims(token);
      const iss = typeof peek?.iss === 'string' ? peek.iss : undefined;
      if (iss === undefined || iss === settings.issuer) return verifyOwn(token);
      const external = options.external?.(token, iss);
      if (external) return external;
      return { ok: false, failure: 'unknown_issuer', message: 'token issuer not trusted' };
    },
  };
}

function toVerified(p: JWTPayload): TokenVerdict {
  const aud = Array.isArray(p.aud) ? (p.aud.length === 1 ? p.aud[0] : undefined) : p.aud;
  const { sub, jti, exp, iss } = p;
  const clientId = p.client_id;
  const agentId = p.agent_id;
  const scope = p.scope ?? '';
  const derivedFrom = p.derived_from ?? [];
  if (
    !Array.isArray(derivedFrom) ||
    derivedFrom.length > MAX_DERIVED_FROM ||
    !derivedFrom.every((j): j is string => typeof j === 'string')
  ) {
    return { ok: false, failure: 'claim_invalid', message: 'token claims malformed' };
  }
  if (
    typeof aud !== 'string' ||
    typeof sub !== 'string' ||
    typeof jti !== 'string' ||
    typeof exp !== 'number' ||
    typeof iss !== 'string' ||
    typeof clientId !== 'string' ||
    typeof agentId !== 'string' ||
    typeof scope !== 'string'
  ) {
    return { ok: false, failure: 'claim_invalid', message: 'token claims malformed' };
  }
  return {
    ok: true,
    token: {
      issuer: iss,
      subject: sub,
      clientId,
      agentId,
      audience: aud,
      scopes: Object.freeze(scope === '' ? [] : scope.split(' ')),
      jti,
      expiresAt: exp * 1000,
      tenant: typeof p.tenant === 'string' ? p.tenant : null,
      derivedFrom: Object.freeze(derivedFrom),
      claims: p,
    },
  };
}
