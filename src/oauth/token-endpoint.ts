import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AgentRow, AgentsRepo } from '../store/agents-repo.js';
import type { OAuthStore } from '../store/oauth-store.js';
import { usable, type AgentProvisioner } from './agents.js';
import type { ClientDirectory, OAuthClient } from './client-directory.js';
import { hasLifetime, type TokenIssuer } from './issue-tokens.js';
import { errorResponse, jsonResponse, reject, type GrantOutcome, type OAuthRejection } from './oauth-errors.js';
import { hashSecret, type OAuthSettings } from './oauth-settings.js';
import { verifyPkce } from './pkce.js';
import type { RevocationList } from './revocation-list.js';
import { createTokenExchange, TOKEN_EXCHANGE_SINGLE, type DelegationLookup } from './token-exchange.js';
import { TOKEN_EXCHANGE_GRANT } from './token-exchange-uris.js';
import type { TokenVerifier } from './verify-token.js';

/**
 * `/oauth/token` (OAuth 2.1 §3.2): authorization_code (single use; a replay revokes what the
 * code issued), refresh_token (rotated; reuse revokes the whole grant, RFC 9700 §4.14.2),
 * client_credentials for machine agents, and RFC 8693 token exchange for delegation (when the
 * gateway passes `delegations`; see `token-exchange.ts`). No access token outlives its agent.
 */
export interface TokenEndpointDeps {
  settings: OAuthSettings;
  store: OAuthStore;
  agents: AgentsRepo;
  provisioner: AgentProvisioner;
  clients: ClientDirectory;
  issuer: TokenIssuer;
  verifier: TokenVerifier;
  revocations: RevocationList;
  /** Policy's live delegation chains; without it token exchange is not offered. */
  delegations: DelegationLookup | undefined;
  clock: () => number;
  logger: Logger;
}

const MAX_BODY_BYTES = 16 * 1024;
const SINGLE = ['grant_type', 'code', 'redirect_uri', 'code_verifier', 'refresh_token', 'scope', 'client_id', 'client_secret', ...TOKEN_EXCHANGE_SINGLE];

type Outcome = GrantOutcome;

export function createTokenEndpoint(deps: TokenEndpointDeps): (request: Request) => Promise<Response> {
  const { settings, store, clock, logger } = deps;
  const fail = (error: OAuthRejection['error'], description: string): Outcome => ({ ok: false, rejection: reject(error, description) });
  const exchange = deps.delegations ? createTokenExchange({ ...deps, delegations: deps.delegations }) : undefined;

  async function revokeGrant(grantId: string, reason: string): Promise<void> {
    const revoked = await store.revokeGrant(grantId, clock(), reason);
    for (const token of revoked) deps.revocations.add(token);
    logger.warn({ grantId, reason, accessTokensRevoked: revoked.length }, 'grant revoked');
  }

  /** RFC 8707: a `resource` at the token endpoint may only repeat the grant's one resource. */
  function resourceProblem(form: URLSearchParams, granted: string): Outcome | undefined {
    const resources = form.getAll('resource');
    if (resources.length === 0) return undefined;
    if (resources.length > 1 || resources[0] !== granted) return fail('invalid_target', 'resource does not match the grant');
    return undefined;
  }

  async function authorizationCode(form: URLSearchParams, client: OAuthClient): Promise<Outcome> {
    const code = form.get('code');
    if (!code) return fail('invalid_request', 'code is required');
    const row = await store.getCode(hashSecret(code));
    if (!row) return fail('invalid_grant', 'unknown authorization code');
    if (row.usedAt !== null) {
      // RFC 6749 §4.1.2: a code used twice is evidence of theft; revoke what it issued.
      await revokeGrant(row.grantId, 'authorization code replay');
      return fail('invalid_grant', 'authorization code already used');
    }
    if (row.expiresAt <= clock()) return fail('invalid_grant', 'authorization code expired');
    if (row.clientId !== client.clientId) return fail('invalid_grant', 'authorization code was issued to another client');
    if (form.get('redirect_uri') !== row.redirectUri) return fail('invalid_grant', 'redirect_uri does not match the authorization request');
    const verifier = form.get('code_verifier');
    if (!verifier) return fail('invalid_request', 'code_verifier is required (PKCE)');
    if (!verifyPkce(verifier, row.codeChallenge)) return fail('invalid_grant', 'code_verifier does not match the code_challenge');
    const grant = await store.getGrant(row.grantId);
    if (!grant || grant.revokedAt !== null) return fail('invalid_grant', 'grant revoked');
    const target = resourceProblem(form, grant.resource);
    if (target) return target;
    // Checks first, then the atomic claim: of two concurrent redemptions exactly one gets here.
    if (!(await store.consumeCode(row.codeHash, clock()))) return fail('invalid_grant', 'authorization code already used');
    const agent = await agentFor(grant.agentId);
    if (!agent.ok) return agent;
    const body = await deps.issuer.respond({
      subject: grant.userId ?? client.clientId,
      clientId: client.clientId,
      agentId: grant.agentId,
      tenant: agent.agent.tenant,
      resource: grant.resource,
      scopes: grant.scope.split(' ').filter(Boolean),
      grantId: grant.id,
      grantType: 'authorization_code',
      notAfter: agent.agent.expiresAt,
      withRefresh: client.grantTypes.includes('refresh_token'),
    });
    return { ok: true, body };
  }

  async function refreshToken(form: URLSearchParams, client: OAuthClient): Promise<Outcome> {
    const token = form.get('refresh_token');
    if (!token) return fail('invalid_request', 'refresh_token is required');
    const row = await store.getRefreshToken(hashSecret(token));
    if (!row) return fail('invalid_grant', 'unknown refresh token');
    const grant = await store.getGrant(row.grantId);
    if (!grant || grant.clientId !== client.clientId) return fail('invalid_grant', 'refresh token was issued to another client');
    if (grant.revokedAt !== null) return fail('invalid_grant', 'grant revoked');
    if (row.usedAt !== null) {
      await revokeGrant(grant.id, 'refresh token reuse');
      return fail('invalid_grant', 'refresh token already used; the grant is revoked');
    }
    if (row.expiresAt <= clock()) return fail('invalid_grant', 'refresh token expired');
    if (!client.grantTypes.includes('refresh_token')) return fail('unauthorized_client', 'client may not use refresh tokens');
    const held = row.scope.split(' ').filter(Boolean);
    const requested = form.get('scope');
    const scopes = requested === null ? held : [...new Set(requested.split(' ').filter(Boolean))];
    // May narrow, never widen (RFC 6749 §6).
    const wider = scopes.filter((s) => !held.includes(s));
    if (wider.length > 0) return fail('invalid_scope', `scope exceeds the grant: ${wider.join(' ')}`);
    const target = resourceProblem(form, grant.resource);
    if (target) return target;
    const agent = await agentFor(grant.agentId);
    if (!agent.ok) return agent;
    if (!(await store.consumeRefreshToken(row.tokenHash, clock()))) {
      await revokeGrant(grant.id, 'refresh token reuse (concurrent)');
      return fail('invalid_grant', 'refresh token already used; the grant is revoked');
    }
    const access = await deps.issuer.issueAccessToken({
      subject: grant.userId ?? client.clientId,
      clientId: client.clientId,
      agentId: grant.agentId,
      tenant: agent.agent.tenant,
      resource: grant.resource,
      scopes,
      grantId: grant.id,
      grantType: 'refresh_token',
      notAfter: agent.agent.expiresAt,
    });
    // The new refresh token keeps the grant's scope; narrowing applies to this access token only.
    const refresh = await deps.issuer.issueRefreshToken(grant.id, row.scope);
    return {
      ok: true,
      body: { access_token: access.token, token_type: 'Bearer', expires_in: access.expiresIn, scope: scopes.join(' '), refresh_token: refresh },
    };
  }

  async function clientCredentials(form: URLSearchParams, client: OAuthClient): Promise<Outcome> {
    if (!client.secretHash) return fail('unauthorized_client', 'client_credentials needs a confidential client');
    if (!client.grantTypes.includes('client_credentials')) return fail('unauthorized_client', 'client may not use client_credentials');
    const resources = form.getAll('resource');
    if (resources.length !== 1) return fail('invalid_target', 'exactly one resource is required (RFC 8707)');
    if (!settings.resources.has(resources[0])) return fail('invalid_target', 'resource is not served by this gateway');
    const allowed = client.scopes ?? settings.scopes;
    const requested = (form.get('scope') ?? '').split(' ').filter(Boolean);
    const scopes = requested.length > 0 ? [...new Set(requested)] : settings.requiredScopes.filter((s) => allowed.includes(s));
    const bad = scopes.filter((s) => !allowed.includes(s));
    if (bad.length > 0) return fail('invalid_scope', `scope not allowed: ${bad.join(' ')}`);
    const now = clock();
    const agent = await deps.provisioner.ensure({ userId: null, tenant: client.tenant, client, now });
    if (!agent.ok) return fail(agent.error === 'server_error' ? 'server_error' : 'invalid_grant', agent.description);
    if (!hasLifetime(agent.agent.expiresAt, now)) return fail('invalid_grant', `agent ${agent.agent.id} expires within a second`);
    const grantId = randomUUID();
    await store.insertGrant({
      id: grantId,
      clientId: client.clientId,
      userId: null,
      agentId: agent.agent.id,
      resource: resources[0],
      scope: scopes.join(' '),
      createdAt: now,
      revokedAt: null,
      revokeReason: null,
    });
    const body = await deps.issuer.respond({
      subject: client.clientId, // RFC 9068 §2.2: sub is the client when no user is involved
      clientId: client.clientId,
      agentId: agent.agent.id,
      tenant: client.tenant,
      resource: resources[0],
      scopes,
      grantId,
      grantType: 'client_credentials',
      notAfter: agent.agent.expiresAt,
      withRefresh: false,
    });
    return { ok: true, body };
  }

  /** The grant's agent, if it may still receive a token (one that lives at least a second). */
  async function agentFor(agentId: string): Promise<{ ok: true; agent: AgentRow } | { ok: false; rejection: OAuthRejection }> {
    const agent = await deps.agents.get(agentId);
    if (!agent) return { ok: false, rejection: reject('invalid_grant', 'agent no longer exists') };
    const now = clock();
    const check = usable(agent, now);
    if (!check.ok) return { ok: false, rejection: reject('invalid_grant', check.description) };
    if (!hasLifetime(agent.expiresAt, now)) return { ok: false, rejection: reject('invalid_grant', `agent ${agent.id} expires within a second`) };
    return { ok: true, agent };
  }

  return async (request) => {
    const type = request.headers.get('content-type') ?? '';
    if (!type.startsWith('application/x-www-form-urlencoded')) {
      return errorResponse(reject('invalid_request', 'body must be application/x-www-form-urlencoded'));
    }
    const text = await request.text();
    if (text.length > MAX_BODY_BYTES) return errorResponse(reject('invalid_request', 'request too large', 413));
    const form = new URLSearchParams(text);
    const repeated = SINGLE.find((name) => form.getAll(name).length > 1);
    if (repeated) return errorResponse(reject('invalid_request', `${repeated} must not be repeated`));
    const grantType = form.get('grant_type');
    if (!grantType) return errorResponse(reject('invalid_request', 'grant_type is required'));

    const auth = await deps.clients.authenticate(request.headers, form);
    if (!auth.ok) {
      const basic = /^basic /i.test(request.headers.get('authorization') ?? '');
      return errorResponse(auth.rejection, basic ? { 'WWW-Authenticate': 'Basic realm="portcullis"' } : {});
    }
    let outcome: Outcome;
    switch (grantType) {
      case 'authorization_code':
        outcome = await authorizationCode(form, auth.client);
        break;
      case 'refresh_token':
        outcome = await refreshToken(form, auth.client);
        break;
      case 'client_credentials':
        outcome = await clientCredentials(form, auth.client);
        break;
      case TOKEN_EXCHANGE_GRANT:
        // Token exchange is only offered when the gateway passes the policy's delegations.
        outcome = exchange ? await exchange(form, auth.client) : fail('unsupported_grant_type', 'token exchange is not enabled');
        break;
      default:
        outcome = fail('unsupported_grant_type', `grant_type ${grantType.slice(0, 100)} is not supported`);
    }
    if (!outcome.ok) return errorResponse(outcome.rejection);
    return jsonResponse(outcome.body);
  };
}
