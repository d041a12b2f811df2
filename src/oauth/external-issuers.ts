import type { Logger } from 'pino';
import type { TrustedIssuerConfig } from '../config/oauth-schema.js';
import type { AgentProvisioner } from './agents.js';
import { createRemoteKeySet, verifyJwt, type JWTPayload, type RemoteKeySet } from './jwt.js';
import type { OAuthSettings } from './oauth-settings.js';
import type { ExternalTokenVerifier, TokenVerdict } from './verify-token.js';

/**
 * Access tokens from an IdP a team already runs (`oauth.trustedIssuers`). Keys come from the
 * issuer's configured JWKS URL (an operator's choice, not a client's, so jose's own fetcher is
 * used). The audience rule does not bend: `aud` must still name this gateway's resource. The
 * token's subject and client are mapped to an agent, created on first sight.
 */
export function createExternalVerifier(deps: {
  settings: OAuthSettings;
  agents: AgentProvisioner;
  clock: () => number;
  logger: Logger;
}): ExternalTokenVerifier | undefined {
  const { settings } = deps;
  if (settings.trustedIssuers.length === 0) return undefined;
  const byIssuer = new Map<string, { config: TrustedIssuerConfig; keys: RemoteKeySet }>(
    settings.trustedIssuers.map((ti) => [ti.issuer, { config: ti, keys: createRemoteKeySet(ti.jwksUri) }]),
  );

  async function verify(token: string, entry: { config: TrustedIssuerConfig; keys: RemoteKeySet }): Promise<TokenVerdict> {
    const { config } = entry;
    const result = await verifyJwt(token, { remote: entry.keys }, {
      algorithms: config.algorithms,
      issuer: config.issuer,
      now: deps.clock(),
      clockToleranceSec: 30,
      requiredClaims: ['exp', 'aud', config.claims.subject],
    });
    if (!result.ok) return result;
    const p = result.payload;
    const subject = p[config.claims.subject];
    const clientId = p[config.claims.clientId] ?? p.azp ?? p.client_id;
    if (typeof subject !== 'string' || typeof clientId !== 'string') {
      return { ok: false, failure: 'claim_invalid', message: 'subject or client claim missing' };
    }
    const rawScope = p[config.claims.scope];
    const scopes = typeof rawScope === 'string' ? rawScope.split(' ').filter(Boolean) : Array.isArray(rawScope) ? rawScope.map(String) : [];
    const audiences = Array.isArray(p.aud) ? p.aud : [p.aud];
    // Several audiences are common at IdPs; ours must be among them and is the one we bind to.
    const ours = audiences.filter((a): a is string => typeof a === 'string' && settings.resources.has(a));
    const audience = ours.length === 1 ? ours[0] : String(audiences[0]);
    const tenantClaim = config.claims.tenant ? p[config.claims.tenant] : undefined;
    const tenant = typeof tenantClaim === 'string' ? tenantClaim : null;
    const userId = `${config.issuer}#${subject}`;
    const agent = await deps.agents.ensure({ userId, tenant, client: { clientId, name: clientId }, now: deps.clock() });
    if (!agent.ok) return { ok: false, failure: 'claim_invalid', message: agent.description };
    return {
      ok: true,
      token: {
        issuer: config.issuer,
        subject: userId,
        clientId,
        agentId: agent.agent.id,
        audience,
        scopes: Object.freeze(scopes),
        jti: typeof p.jti === 'string' ? p.jti : `${config.issuer}#${subject}#${String(p.iat ?? p.exp)}`,
        expiresAt: (p.exp as number) * 1000,
        tenant,
        derivedFrom: [],
        claims: p as JWTPayload,
      },
    };
  }

  return (token, iss) => {
    const entry = byIssuer.get(iss);
    return entry ? verify(token, entry) : undefined;
  };
}
