import { z } from 'zod';

/**
 * The `oauth` section of the config: the authorization server and the resource-server check.
 * Durations are in seconds (they end up in `exp` / `expires_in`, which are seconds on the wire).
 */

/** RFC 6749 §3.3 scope-token: printable ASCII without space, `"` or `\`. */
const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'invalid scope token');

const httpsOrLoopbackUrl = z.url({ protocol: /^https?$/, error: 'invalid URL (http or https expected)' });

/** A user of the built-in login page (`npm start`, small deployments). */
const builtInUser = z.strictObject({
  username: z.string().min(1).max(128),
  /** `scrypt$N$r$p$salt$hash` as printed by `hashPassword()` (src/oauth/password.ts). */
  passwordHash: z.string().regex(/^scrypt\$\d+\$\d+\$\d+\$[\w-]+\$[\w-]+$/, 'must be a scrypt hash from hashPassword()'),
  /** Stable user id (the token's `sub`); defaults to the username. */
  id: z.string().min(1).max(256).optional(),
  name: z.string().max(256).optional(),
  tenant: z.string().max(256).optional(),
});

/** An OAuth client known from config rather than registered over the wire. */
const preRegisteredClient = z.strictObject({
  clientId: z.string().min(1).max(256),
  /** Plain secret (normally from env, ≥ 32 chars); only its hash is kept in memory. Absent = public client. */
  clientSecret: z.string().min(32, 'must be at least 32 characters').optional(),
  name: z.string().max(256).optional(),
  redirectUris: z.array(httpsOrLoopbackUrl).default([]),
  grantTypes: z
    .array(z.enum(['authorization_code', 'refresh_token', 'client_credentials']))
    .min(1)
    .default(['authorization_code', 'refresh_token']),
  /** Scopes this client may ask for; defaults to every configured scope. */
  scopes: z.array(scopeToken).optional(),
  /** client_credentials only: the tenant of the machine agent. */
  tenant: z.string().max(256).optional(),
});

/** An external IdP whose access tokens the resource server also accepts. */
const trustedIssuer = z.strictObject({
  issuer: z.string().min(1),
  /** https (http is accepted for loopback development only). */
  jwksUri: httpsOrLoopbackUrl,
  algorithms: z.array(z.enum(['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'])).min(1).default(['RS256', 'ES256']),
  /** Which claims carry the identity; `aud` must still equal the resource URI (RFC 8707). */
  claims: z
    .strictObject({
      subject: z.string().default('sub'),
      clientId: z.string().default('client_id'),
      scope: z.string().default('scope'),
      tenant: z.string().optional(),
    })
    .prefault({}),
});

export const oauthConfigSchema = z.strictObject({
  /**
   * `false` serves every caller as an anonymous identity: a development mode, logged loudly at
   * start. Production deployments keep the default.
   */
  enforceAuth: z.boolean().default(true),
  /** The `iss` of our tokens and metadata; defaults to `baseUrl`. */
  issuer: httpsOrLoopbackUrl.optional(),
  accessTokenTtl: z.number().int().min(30).max(86_400).default(3600),
  refreshTokenTtl: z.number().int().min(60).default(30 * 86_400),
  codeTtl: z.number().int().min(10).max(600).default(60),
  /** Scopes the authorization server knows (`scopes_supported`). */
  scopes: z.array(scopeToken).min(1).default(['mcp']),
  /** Scopes every token needs at `/mcp/{server}`; a token without them gets 403 insufficient_scope. */
  requiredScopes: z.array(scopeToken).default(['mcp']),
  /** Resource URIs accepted in `resource` besides `{baseUrl}/mcp/{server}` of configured servers. */
  allowedResources: z.array(z.url()).default([]),
  /** Own login page: the browser is sent there with `return_to`; `resolveUser` must then know the user. */
  loginPage: httpsOrLoopbackUrl.optional(),
  /** Own consent page: receives `interaction`; reads `/oauth/interaction/{id}` and posts `/oauth/consent`. */
  consentPage: httpsOrLoopbackUrl.optional(),
  preRegisteredClients: z.array(preRegisteredClient).default([]),
  users: z.array(builtInUser).default([]),
  /** Who is signed in, for deployments with their own login: return null to show the login page. */
  resolveUser: z
    .custom<(request: Request) => Promise<ResolvedUser | null> | ResolvedUser | null>((v) => typeof v === 'function')
    .optional(),
  /** Extra claims for an access token; registered claims (iss, sub, aud, exp, …) cannot be overridden. */
  getAdditionalClaims: z
    .custom<(context: AdditionalClaimsContext) => Promise<Record<string, unknown>> | Record<string, unknown>>(
      (v) => typeof v === 'function',
    )
    .optional(),
  trustedIssuers: z.array(trustedIssuer).default([]),
  registration: z
    .strictObject({
      /** RFC 7591 dynamic registration (2025-era clients; deprecated by the 2026-07-28 spec). */
      enabled: z.boolean().default(true),
      maxPerMinutePerIp: z.number().int().positive().default(20),
    })
    .prefault({}),
  /** Client ID Metadata Documents: https `client_id` URLs fetched through the SSRF guard. */
  clientMetadataDocuments: z
    .strictObject({
      enabled: z.boolean().default(true),
      maxBytes: z.number().int().positive().max(1_048_576).default(5120),
      timeoutMs: z.number().int().positive().max(30_000).default(5000),
    })
    .prefault({}),
}).refine((o) => o.loginPage === undefined || o.resolveUser !== undefined, {
  // The gateway learns who signed in on your page only through resolveUser; without it the
  // browser would loop between the gateway and your login page.
  message: 'loginPage needs resolveUser (the hook that tells the gateway who signed in on your page)',
  path: ['loginPage'],
});

/** What `resolveUser` returns: the signed-in human. */
export interface ResolvedUser {
  id: string;
  name?: string;
  tenant?: string | null;
}

/** What `getAdditionalClaims` is told about the token being issued. */
export interface AdditionalClaimsContext {
  subject: string;
  clientId: string;
  agentId: string;
  resource: string;
  scopes: readonly string[];
  grantType: 'authorization_code' | 'refresh_token' | 'client_credentials';
}

export type OAuthConfig = z.output<typeof oauthConfigSchema>;
export type TrustedIssuerConfig = z.output<typeof trustedIssuer>;
export type PreRegisteredClientConfig = z.output<typeof preRegisteredClient>;
