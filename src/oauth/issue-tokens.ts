import { randomUUID } from 'node:crypto';
import type { AdditionalClaimsContext } from '../config/oauth-schema.js';
import type { OAuthStore } from '../store/oauth-store.js';
import type { ActClaim } from './act-claim.js';
import { signJwt } from './jwt.js';
import { hashSecret, type OAuthSettings } from './oauth-settings.js';
import { randomToken } from './random-token.js';
import type { SigningKeys } from './signing-keys.js';
import { TOKEN_EXCHANGE_GRANT } from './token-exchange-uris.js';

/** Claims no `getAdditionalClaims` hook may set: they are what the resource server trusts. */
const RESERVED = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'client_id', 'agent_id', 'scope', 'act', 'cnf', 'tenant', 'derived_from']);

/** The grant a token comes from. */
export type IssuedGrantType = AdditionalClaimsContext['grantType'] | typeof TOKEN_EXCHANGE_GRANT;

export interface AccessTokenInput {
  subject: string;
  clientId: string;
  agentId: string;
  tenant: string | null;
  resource: string;
  scopes: readonly string[];
  grantId: string | null;
  grantType: IssuedGrantType;
  /** Epoch ms the token must not outlive (the agent's, a subject token's or a delegation's end). */
  notAfter?: number | null;
  /** RFC 8693 §4.1: the delegation chain, current actor outermost (token exchange only). */
  act?: ActClaim;
  /**
   * `jti`s of the tokens this one was exchanged from, oldest first (a private claim, RFC 7519
   * §4.3): revoking any of them revokes this one too (see `resource-guard.ts`).
   */
  derivedFrom?: readonly string[];
}

/** The RFC 6749 §5.1 token response body. */
export interface TokenResponseBody {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

/** Whether a token capped at `notAfter` (epoch ms) would live at least one whole second. */
export function hasLifetime(notAfter: number | null | undefined, now: number): boolean {
  return notAfter == null || Math.floor(notAfter / 1000) > Math.floor(now / 1000);
}

export interface TokenIssuer {
  /** Signs an RFC 9068 access token and records its `jti` so it can be revoked. */
  issueAccessToken(input: AccessTokenInput): Promise<{ token: string; jti: string; expiresIn: number }>;
  /** Creates a refresh token in a grant's family; only its hash is stored. */
  issueRefreshToken(grantId: string, scope: string): Promise<string>;
  /** Access token, plus a refresh token when the client may refresh. */
  respond(input: AccessTokenInput & { withRefresh: boolean }): Promise<TokenResponseBody>;
}

export function createTokenIssuer(deps: { settings: OAuthSettings; keys: SigningKeys; store: OAuthStore; clock: () => number }): TokenIssuer {
  const { settings, keys, store, clock } = deps;

  async function issueAccessToken(input: AccessTokenInput) {
    const now = clock();
    const iat = Math.floor(now / 1000);
    const ceiling = input.notAfter == null ? Number.POSITIVE_INFINITY : Math.floor(input.notAfter / 1000);
    const exp = Math.min(iat + settings.accessTokenTtl, ceiling);
    if (exp <= iat) throw new RangeError('issueAccessToken: notAfter leaves the token no lifetime');
    const jti = randomUUID();
    // The hook's context names only the grants config knows; exchanged tokens get no extra claims.
    const extra =
      settings.getAdditionalClaims && input.grantType !== TOKEN_EXCHANGE_GRANT
        ? await settings.getAdditionalClaims({
            subject: input.subject,
            clientId: input.clientId,
            agentId: input.agentId,
            resource: input.resource,
            scopes: input.scopes,
            grantType: input.grantType,
          })
        : {};
    const custom = Object.fromEntries(Object.entries(extra ?? {}).filter(([k]) => !RESERVED.has(k)));
    const token = await signJwt(
      {
        ...custom,
        iss: settings.issuer,
        sub: input.subject,
        aud: input.resource, // RFC 8707: exactly one resource per token
        client_id: input.clientId,
        agent_id: input.agentId,
        scope: input.scopes.join(' '),
        ...(input.tenant ? { tenant: input.tenant } : {}),
        ...(input.act ? { act: input.act } : {}),
        ...(input.derivedFrom && input.derivedFrom.length > 0 ? { derived_from: [...input.derivedFrom] } : {}),
        jti,
        iat,
        exp,
      },
      keys.current(),
      'at+jwt', // RFC 9068 §2.1
    );
    await store.insertAccessToken({
      jti,
      grantId: input.grantId,
      clientId: input.clientId,
      agentId: input.agentId,
      expiresAt: exp * 1000,
      revokedAt: null,
    });
    return { token, jti, expiresIn: exp - iat };
  }

  async function issueRefreshToken(grantId: string, scope: string) {
    const token = randomToken(32);
    const now = clock();
    await store.insertRefreshToken({
      tokenHash: hashSecret(token),
      grantId,
      scope,
      createdAt: now,
      expiresAt: now + settings.refreshTokenTtl * 1000,
      usedAt: null,
    });
    return token;
  }

  return {
    issueAccessToken,
    issueRefreshToken,
    async respond(input) {
      const access = await issueAccessToken(input);
      const scope = input.scopes.join(' ');
      const body: TokenResponseBody = { access_token: access.token, token_type: 'Bearer', expires_in: access.expiresIn, scope };
      if (input.withRefresh && input.grantId) body.refresh_token = await issueRefreshToken(input.grantId, scope);
      return body;
    },
  };
}
