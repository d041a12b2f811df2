import { randomUUID } from 'node:crypto';
import type { AdditionalClaimsContext } from '../config/oauth-schema.js';
import type { OAuthStore } from '../store/oauth-store.js';
import { signJwt } from './jwt.js';
import { hashSecret, type OAuthSettings } from './oauth-settings.js';
import { randomToken } from './random-token.js';
import type { SigningKeys } from './signing-keys.js';

/** Claims no `getAdditionalClaims` hook may set: they are what the resource server trusts. */
const RESERVED = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'client_id', 'agent_id', 'scope', 'act', 'cnf', 'tenant']);

export interface AccessTokenInput {
  subject: string;
  clientId: string;
  agentId: string;
  tenant: string | null;
  resource: string;
  scopes: readonly string[];
  grantId: string | null;
  grantType: AdditionalClaimsContext['grantType'];
}

/** The RFC 6749 §5.1 token response body. */
export interface TokenResponseBody {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
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
    const exp = iat + settings.accessTokenTtl;
    const jti = randomUUID();
    const extra = settings.getAdditionalClaims
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
    return { token, jti, expiresIn: settings.accessTokenTtl };
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
