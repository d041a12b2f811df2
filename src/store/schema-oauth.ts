import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Tables of the authorization server. Times are epoch milliseconds. Every bearer secret (codes,
 * refresh tokens, login sessions, client secrets) is stored as its SHA-256: a leaked database
 * must not hand out live credentials. Only `oauth/*` code reaches these, through `OAuthStore`.
 */

/** ES256 signing keys. A retired key stays published until the tokens it signed have expired. */
export const oauthSigningKeys = sqliteTable('oauth_signing_keys', {
  kid: text('kid').primaryKey(),
  alg: text('alg').notNull(),
  privateJwk: text('private_jwk').notNull(),
  publicJwk: text('public_jwk').notNull(),
  createdAt: integer('created_at').notNull(),
  retiredAt: integer('retired_at'),
});

/** Clients registered over RFC 7591 (pre-registered clients live in config, CIMD clients in a cache). */
export const oauthClients = sqliteTable('oauth_clients', {
  clientId: text('client_id').primaryKey(),
  secretHash: text('secret_hash'),
  /** The registered metadata as returned to the client (redirect_uris, grant_types, …), JSON. */
  metadata: text('metadata').notNull(),
  createdAt: integer('created_at').notNull(),
});

/** A validated authorization request waiting for login and consent, bound to one browser. */
export const oauthInteractions = sqliteTable(
  'oauth_interactions',
  {
    id: text('id').primaryKey(),
    browserHash: text('browser_hash').notNull(),
    csrfToken: text('csrf_token').notNull(),
    /** The validated request (client, redirect URI, PKCE challenge, resource, scopes, state), JSON. */
    request: text('request').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('oauth_interactions_expires_idx').on(t.expiresAt)],
);

/** Built-in login sessions (the cookie holds the id, the table its hash). */
export const oauthLoginSessions = sqliteTable(
  'oauth_login_sessions',
  {
    idHash: text('id_hash').primaryKey(),
    userId: text('user_id').notNull(),
    userName: text('user_name'),
    tenant: text('tenant'),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('oauth_login_sessions_expires_idx').on(t.expiresAt)],
);

/** What a user approved for a client and resource; a new client always asks again. */
export const oauthConsents = sqliteTable(
  'oauth_consents',
  {
    userId: text('user_id').notNull(),
    clientId: text('client_id').notNull(),
    resource: text('resource').notNull(),
    /** Space-separated granted scopes. */
    scope: text('scope').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.clientId, t.resource] })],
);

/**
 * A grant: everything issued from one authorization code (or one client_credentials request).
 * Revoking it revokes every refresh and access token of the family (RFC 9700 §4.14.2).
 */
export const oauthGrants = sqliteTable(
  'oauth_grants',
  {
    id: text('id').primaryKey(),
    clientId: text('client_id').notNull(),
    userId: text('user_id'),
    agentId: text('agent_id').notNull(),
    resource: text('resource').notNull(),
    scope: text('scope').notNull(),
    createdAt: integer('created_at').notNull(),
    revokedAt: integer('revoked_at'),
    revokeReason: text('revoke_reason'),
  },
  (t) => [index('oauth_grants_agent_idx').on(t.agentId)],
);

/** Authorization codes: single use; `usedAt` is set atomically on redemption. */
export const oauthCodes = sqliteTable(
  'oauth_codes',
  {
    codeHash: text('code_hash').primaryKey(),
    grantId: text('grant_id').notNull(),
    clientId: text('client_id').notNull(),
    redirectUri: text('redirect_uri').notNull(),
    codeChallenge: text('code_challenge').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    usedAt: integer('used_at'),
  },
  (t) => [index('oauth_codes_expires_idx').on(t.expiresAt)],
);

/** Refresh tokens: rotated on use; presenting a used one revokes its grant. */
export const oauthRefreshTokens = sqliteTable(
  'oauth_refresh_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    grantId: text('grant_id').notNull(),
    /** Narrowed scope of this token (⊆ the grant's). */
    scope: text('scope').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    usedAt: integer('used_at'),
  },
  (t) => [index('oauth_refresh_grant_idx').on(t.grantId), index('oauth_refresh_expires_idx').on(t.expiresAt)],
);

/** Issued access tokens by `jti`, so a revocation can name them and other instances can poll it. */
export const oauthAccessTokens = sqliteTable(
  'oauth_access_tokens',
  {
    jti: text('jti').primaryKey(),
    grantId: text('grant_id'),
    clientId: text('client_id').notNull(),
    agentId: text('agent_id').notNull(),
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [
    index('oauth_access_grant_idx').on(t.grantId),
    index('oauth_access_revoked_idx').on(t.revokedAt),
    index('oauth_access_expires_idx').on(t.expiresAt),
  ],
);
