import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

/**
 * The Postgres declaration of every table, side by side with the SQLite one (`../schema*.ts`,
 * `../audit-schema.ts`): same table, column and index names, same nullability and keys.
 * `test/store/schema-parity.test.ts` compares the two table by table, so a column added to one
 * and not the other fails the suite instead of drifting. Per dialect only the types differ:
 * epoch-millisecond times are `bigint` (number mode), SQLite `real` is `double precision`,
 * SQLite's 0/1 boolean is `boolean`. JSON stays in `text` so both dialects share one codec.
 */

const ms = (name: string) => bigint(name, { mode: 'number' });

// ---- core (../schema.ts) ----

export const servers = pgTable('servers', {
  name: text('name').primaryKey(),
  transport: text('transport', { enum: ['http', 'stdio'] }).notNull(),
  target: text('target').notNull(),
  era: text('era', { enum: ['modern', 'legacy'] }),
  updatedAt: ms('updated_at').notNull(),
});

export const sessions = pgTable(
  'sessions',
  {
    idHash: text('id_hash').primaryKey(),
    server: text('server').notNull(),
    principal: text('principal').notNull(),
    protocolVersion: text('protocol_version').notNull(),
    initParams: text('init_params').notNull(),
    upstreamSessionId: text('upstream_session_id'),
    createdAt: ms('created_at').notNull(),
    lastSeenAt: ms('last_seen_at').notNull(),
  },
  (t) => [index('sessions_last_seen_idx').on(t.lastSeenAt)],
);

export const meta = pgTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

// ---- agents (../schema-agents.ts) ----

export const agents = pgTable(
  'agents',
  {
    id: text('id').primaryKey(),
    userId: text('user_id'),
    clientId: text('client_id').notNull(),
    tenant: text('tenant'),
    name: text('name').notNull(),
    type: text('type', { enum: ['interactive', 'autonomous', 'delegated'] }).notNull(),
    status: text('status', { enum: ['active', 'suspended', 'revoked'] }).notNull(),
    expiresAt: ms('expires_at'),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [index('agents_user_client_idx').on(t.userId, t.clientId), index('agents_client_idx').on(t.clientId)],
);

// ---- tool pins (../schema-tools.ts) ----

export const toolPins = pgTable(
  'tool_pins',
  {
    server: text('server').notNull(),
    tool: text('tool').notNull(),
    hash: text('hash').notNull(),
    definition: text('definition').notNull(),
    pendingHash: text('pending_hash'),
    pendingDefinition: text('pending_definition'),
    pendingSince: ms('pending_since'),
    approvedAt: ms('approved_at').notNull(),
    approvedBy: text('approved_by').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.server, t.tool] })],
);

// ---- authorization server (../schema-oauth.ts) ----

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

// ---- policy (../schema-policy.ts) ----

export const permissions = pgTable(
  'permissions',
  {
    id: text('id').primaryKey(),
    agentId: text('agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    resource: text('resource').notNull(),
    actions: text('actions').notNull(),
    effect: text('effect', { enum: ['allow', 'deny'] }).notNull(),
    constraints: text('constraints').notNull(),
    expiresAt: ms('expires_at'),
    createdAt: ms('created_at').notNull(),
    createdBy: text('created_by').notNull(),
  },
  (t) => [index('permissions_agent_idx').on(t.agentId), index('permissions_created_by_idx').on(t.createdBy)],
);

export const delegations = pgTable(
  'delegations',
  {
    id: text('id').primaryKey(),
    parentAgentId: text('parent_agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    childAgentId: text('child_agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    permissions: text('permissions').notNull(),
    maxDepth: integer('max_depth').notNull(),
    startsAt: ms('starts_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
    revokedAt: ms('revoked_at'),
    createdAt: ms('created_at').notNull(),
    createdBy: text('created_by').notNull(),
  },
  (t) => [
    index('delegations_child_idx').on(t.childAgentId),
    index('delegations_parent_idx').on(t.parentAgentId),
    uniqueIndex('delegations_live_child_idx').on(t.childAgentId).where(sql`${t.revokedAt} is null`),
  ],
);

export const budgets = pgTable(
  'budgets',
  {
    id: text('id').primaryKey(),
    scope: text('scope', { enum: ['agent', 'user', 'tenant'] }).notNull(),
    subject: text('subject').notNull(),
    metric: text('metric', { enum: ['calls', 'tokens', 'cost'] }).notNull(),
    limit: doublePrecision('limit_value').notNull(),
    period: text('period', { enum: ['hour', 'day', 'month', 'total'] }).notNull(),
    prices: text('prices'),
    createdAt: ms('created_at').notNull(),
    createdBy: text('created_by').notNull(),
  },
  (t) => [index('budgets_subject_idx').on(t.scope, t.subject), index('budgets_created_by_idx').on(t.createdBy)],
);

export const budgetUsage = pgTable(
  'budget_usage',
  {
    budgetId: text('budget_id')
      .notNull()
      .references(() => budgets.id, { onDelete: 'cascade' }),
    periodStart: ms('period_start').notNull(),
    used: doublePrecision('used').notNull(),
  },
  (t) => [primaryKey({ columns: [t.budgetId, t.periodStart] })],
);

/**
 * `seq` comes from a sequence, which hands out numbers in insert order, not commit order: the
 * Postgres policy repo serialises writers with a transaction-scoped advisory lock so that a
 * poller reading `seq > N` can never skip a change that commits late.
 */
export const policyChanges = pgTable(
  'policy_changes',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    kind: text('kind', { enum: ['agent', 'permission', 'delegation', 'budget'] }).notNull(),
    entityId: text('entity_id').notNull(),
    at: ms('at').notNull(),
  },
  (t) => [index('policy_changes_entity_idx').on(t.kind, t.entityId)],
);

// ---- audit (../audit-schema.ts) ----

export const auditLog = pgTable(
  'audit_log',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey(),
    time: ms('time').notNull(),
    kind: text('kind', { enum: ['attempt', 'outcome'] }).notNull(),
    requestKey: text('request_key').notNull(),
    agent: text('agent'),
    user: text('user'),
    tenant: text('tenant'),
    client: text('client'),
    delegation: text('delegation'),
    server: text('server'),
    tool: text('tool'),
    method: text('method'),
    argsDigest: text('args_digest'),
    args: text('args'),
    decision: text('decision', { enum: ['allow', 'deny'] }),
    reason: text('reason'),
    requestId: text('request_id'),
    sourceIp: text('source_ip'),
    status: text('status'),
    isError: boolean('is_error'),
    latencyMs: doublePrecision('latency_ms'),
    bytes: bigint('bytes', { mode: 'number' }),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [
    index('audit_log_request_key_idx').on(t.requestKey),
    index('audit_log_time_idx').on(t.time),
    index('audit_log_agent_idx').on(t.agent),
    index('audit_log_server_tool_idx').on(t.server, t.tool),
  ],
);

export const auditCheckpoints = pgTable(
  'audit_checkpoints',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    kind: text('kind', { enum: ['head', 'prune', 'start'] }).notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    headHash: text('head_hash').notNull(),
    time: ms('time').notNull(),
    signature: text('signature').notNull(),
  },
  (t) => [index('audit_checkpoints_kind_seq_idx').on(t.kind, t.seq)],
);
