import { createHash } from 'node:crypto';
import type { AdditionalClaimsContext, OAuthConfig, ResolvedUser } from '../config/oauth-schema.js';
import type { GatewayConfig } from '../config/parse-config.js';
import { PortcullisError } from '../errors.js';
import { isLoopbackHost } from './redirect-uri.js';

/** A pre-registered client, compiled: its secret is only kept hashed. */
export interface ConfiguredClient {
  clientId: string;
  secretHash: string | null;
  name: string | undefined;
  redirectUris: readonly string[];
  grantTypes: readonly string[];
  scopes: readonly string[];
  tenant: string | null;
}

export interface ConfiguredUser {
  id: string;
  username: string;
  name: string | undefined;
  tenant: string | null;
  passwordHash: string;
}

/**
 * The compiled, frozen form of the `oauth` config the OAuth modules run on (house style §3):
 * URLs computed once, clients and users indexed, nothing re-read from raw config at request time.
 */
export interface OAuthSettings {
  issuer: string;
  baseUrl: string;
  /** Path prefix of `baseUrl` ('' at the root): routes live under it. */
  basePath: string;
  endpoints: { authorize: string; token: string; register: string; revoke: string; jwks: string };
  /** Resource URIs a token may be issued for (RFC 8707), with the scopes their metadata lists. */
  resources: ReadonlySet<string>;
  serverNames: ReadonlySet<string>;
  scopes: readonly string[];
  requiredScopes: readonly string[];
  accessTokenTtl: number;
  refreshTokenTtl: number;
  codeTtl: number;
  clients: ReadonlyMap<string, ConfiguredClient>;
  users: ReadonlyMap<string, ConfiguredUser>;
  /** `__Host-` cookies need Secure, which needs https; see `cookies.ts` for the http fallback. */
  secureCookies: boolean;
  loginPage: string | undefined;
  consentPage: string | undefined;
  resolveUser: ((request: Request) => Promise<ResolvedUser | null> | ResolvedUser | null) | undefined;
  getAdditionalClaims:
    | ((context: AdditionalClaimsContext) => Promise<Record<string, unknown>> | Record<string, unknown>)
    | undefined;
  registration: OAuthConfig['registration'];
  clientMetadataDocuments: OAuthConfig['clientMetadataDocuments'];
  trustedIssuers: OAuthConfig['trustedIssuers'];
  /** The `agents` config OAuth applies when it creates agents (consent, client_credentials). */
  agents: { maxPerUser: number | undefined; tokenExpiry: number | undefined };
}

/** The key the aggregated endpoint `/mcp` goes by where a server name is expected (no server can be called this). */
export const AGGREGATE_SERVER = '*';

/** The resource URI of one MCP server behind the gateway, or of `/mcp` itself (RFC 8707 / RFC 9728 `resource`). */
export function resourceUriFor(baseUrl: string, server: string): string {
  return server === AGGREGATE_SERVER ? `${baseUrl}/mcp` : `${baseUrl}/mcp/${server}`;
}

/** SHA-256, base64url: how every bearer secret is stored and compared. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/** Compiles the OAuth part of the config; throws CONFIG_INVALID for what zod could not see. */
export function compileOAuthSettings(config: GatewayConfig): OAuthSettings {
  const o = config.oauth;
  const baseUrl = config.baseUrl;
  const issuer = (o.issuer ?? baseUrl).replace(/\/+$/, '');
  const issuerUrl = new URL(issuer);
  const secure = issuerUrl.protocol === 'https:';
  if (!secure && !isLoopbackHost(issuerUrl.hostname)) {
    // OAuth 2.1 §1.5: authorization server endpoints are https. Plain http is a loopback-only dev mode.
    throw new PortcullisError('CONFIG_INVALID', `oauth.issuer: ${issuer} must be https (http is allowed on loopback only)`);
  }
  for (const ti of o.trustedIssuers) {
    const u = new URL(ti.jwksUri);
    if (u.protocol !== 'https:' && !isLoopbackHost(u.hostname)) {
      throw new PortcullisError('CONFIG_INVALID', `oauth.trustedIssuers: jwksUri ${ti.jwksUri} must be https`);
    }
    if (ti.issuer === issuer) throw new PortcullisError('CONFIG_INVALID', 'oauth.trustedIssuers: must not list our own issuer');
  }
  const unknownRequired = o.requiredScopes.filter((s) => !o.scopes.includes(s));
  if (unknownRequired.length > 0) {
    throw new PortcullisError('CONFIG_INVALID', `oauth.requiredScopes: ${unknownRequired.join(', ')} not in oauth.scopes`);
  }
  const serverNames = new Set(Object.keys(config.servers));
  const resources = new Set<string>([...serverNames].map((s) => resourceUriFor(baseUrl, s)));
  // Tokens for the aggregated endpoint are tokens for every server behind it; policy still decides per server and tool.
  if (config.federation.enabled) resources.add(resourceUriFor(baseUrl, AGGREGATE_SERVER));
  for (const r of o.allowedResources) resources.add(r);

  const clients = new Map<string, ConfiguredClient>();
  for (const c of o.preRegisteredClients) {
    if (clients.has(c.clientId)) throw new PortcullisError('CONFIG_INVALID', `oauth.preRegisteredClients: duplicate clientId ${c.clientId}`);
    if (c.grantTypes.includes('client_credentials') && !c.clientSecret) {
      throw new PortcullisError('CONFIG_INVALID', `oauth.preRegisteredClients.${c.clientId}: client_credentials needs a clientSecret`);
    }
    const badScopes = (c.scopes ?? []).filter((s) => !o.scopes.includes(s));
    if (badScopes.length > 0) {
      throw new PortcullisError('CONFIG_INVALID', `oauth.preRegisteredClients.${c.clientId}: scopes ${badScopes.join(', ')} not in oauth.scopes`);
    }
    clients.set(c.clientId, {
      clientId: c.clientId,
      secretHash: c.clientSecret ? hashSecret(c.clientSecret) : null,
      name: c.name,
      redirectUris: [...c.redirectUris],
      grantTypes: [...c.grantTypes],
      scopes: c.scopes ? [...c.scopes] : [...o.scopes],
      tenant: c.tenant ?? null,
    });
  }
  const users = new Map<string, ConfiguredUser>();
  for (const u of o.users) {
    if (users.has(u.username)) throw new PortcullisError('CONFIG_INVALID', `oauth.users: duplicate username ${u.username}`);
    users.set(u.username, {
      id: u.id ?? u.username,
      username: u.username,
      name: u.name,
      tenant: u.tenant ?? null,
      passwordHash: u.passwordHash,
    });
  }
  const basePath = new URL(baseUrl).pathname.replace(/\/+$/, '');
  return Object.freeze({
    issuer,
    baseUrl,
    basePath,
    endpoints: Object.freeze({
      authorize: `${baseUrl}/oauth/authorize`,
      token: `${baseUrl}/oauth/token`,
      register: `${baseUrl}/oauth/register`,
      revoke: `${baseUrl}/oauth/revoke`,
      jwks: `${baseUrl}/oauth/jwks`,
    }),
    resources,
    serverNames,
    scopes: Object.freeze([...o.scopes]),
    requiredScopes: Object.freeze([...o.requiredScopes]),
    accessTokenTtl: o.accessTokenTtl,
    refreshTokenTtl: o.refreshTokenTtl,
    codeTtl: o.codeTtl,
    clients,
    users,
    secureCookies: secure,
    loginPage: o.loginPage,
    consentPage: o.consentPage,
    resolveUser: o.resolveUser,
    getAdditionalClaims: o.getAdditionalClaims,
    registration: o.registration,
    clientMetadataDocuments: o.clientMetadataDocuments,
    trustedIssuers: o.trustedIssuers as OAuthConfig['trustedIssuers'],
    agents: Object.freeze({ maxPerUser: config.agents.maxPerUser, tokenExpiry: config.agents.tokenExpiry }),
  });
}
