import { index, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { ms } from './columns.js';

/** The authorization server's tables, as `../schema-oauth.ts` declares them for SQLite. */

export const oauthSigningKeys = pgTable('oauth_signing_keys', {
  kid: text('kid').primaryKey(),
  alg: text('alg').notNull(),
  privateJwk: text('private_jwk').notNull(),
  publicJwk: text('public_jwk').notNull(),
  createdAt: ms('created_at').notNull(),
  retiredAt: ms('retired_at'),
});

export const oauthClients = pgTable('oauth_clients', {
  clientId: text('client_id').primaryKey(),
  secretHash: text('secret_hash'),
  metadata: text('metadata').notNull(),
  createdAt: ms('created_at').notNull(),
});

export const oauthInteractions = pgTable(
  'oauth_interactions',
  {
    id: text('id').primaryKey(),
    browserHash: text('browser_hash').notNull(),
    csrfToken: text('csrf_token').notNull(),
    request: text('request').notNull(),
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
  },
  (t) => [index('oauth_interactions_expires_idx').on(t.expiresAt)],
);

export const oauthLoginSessions = pgTable(
  'oauth_login_sessions',
  {
    idHash: text('id_hash').primaryKey(),
    userId: text('user_id').notNull(),
    userName: text('user_name'),
    tenant: text('tenant'),
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
  },
  (t) => [index('oauth_login_sessions_expires_idx').on(t.expiresAt)],
);

export const oauthConsents = pgTable(
  'oauth_consents',
  {
    userId: text('user_id').notNull(),
    clientId: text('client_id').notNull(),
    resource: text('resource').notNull(),
    scope: text('scope').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.clientId, t.resource] })],
);

export const oauthGrants = pgTable(
  'oauth_grants',
  {
    id: text('id').primaryKey(),
    clientId: text('client_id').notNull(),
    userId: text('user_id'),
    agentId: text('agent_id').notNull(),
    resource: text('resource').notNull(),
    scope: text('scope').notNull(),
    createdAt: ms('created_at').notNull(),
    revokedAt: ms('revoked_at'),
    revokeReason: text('revoke_reason'),
  },
  (t) => [index('oauth_grants_agent_idx').on(t.agentId)],
);

export const oauthCodes = pgTable(
  'oauth_codes',
  {
    codeHash: text('code_hash').primaryKey(),
    grantId: text('grant_id').notNull(),
    clientId: text('client_id').notNull(),
    redirectUri: text('redirect_uri').notNull(),
    codeChallenge: text('code_challenge').notNull(),
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
    usedAt: ms('used_at'),
  },
  (t) => [index('oauth_codes_expires_idx').on(t.expiresAt)],
);

export const oauthRefreshTokens = pgTable(
  'oauth_refresh_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    grantId: text('grant_id').notNull(),
    scope: text('scope').notNull(),
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
    usedAt: ms('used_at'),
  },
  (t) => [index('oauth_refresh_grant_idx').on(t.grantId), index('oauth_refresh_expires_idx').on(t.expiresAt)],
);

export const oauthAccessTokens = pgTable(
  'oauth_access_tokens',
  {
    jti: text('jti').primaryKey(),
    grantId: text('grant_id'),
    clientId: text('client_id').notNull(),
    agentId: text('agent_id').notNull(),
    expiresAt: ms('expires_at').notNull(),
    revokedAt: ms('revoked_at'),
  },
  (t) => [
    index('oauth_access_grant_idx').on(t.grantId),
    index('oauth_access_revoked_idx').on(t.revokedAt),
    index('oauth_access_expires_idx').on(t.expiresAt),
  ],
);
