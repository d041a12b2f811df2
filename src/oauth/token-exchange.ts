import type { Logger } from 'pino';
import type { AgentRow, AgentsRepo } from '../store/agents-repo.js';
import type { AccessTokenRow, OAuthStore } from '../store/oauth-store.js';
import { actClaimFor } from './act-claim.js';
import { usable } from './agents.js';
import type { OAuthClient } from './client-directory.js';
import { hasLifetime, type TokenIssuer } from './issue-tokens.js';
import { reject, type GrantOutcome, type OAuthErrorCode, type OAuthRejection } from './oauth-errors.js';
import type { OAuthSettings } from './oauth-settings.js';
import type { RevocationList } from './revocation-list.js';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from './token-exchange-uris.js';
import { MAX_DERIVED_FROM, type TokenVerifier, type VerifiedToken } from './verify-token.js';

/** The live delegation chain that ends at an agent, as policy would resolve it for a call now. */
export interface LiveDelegationChain {
  /** Agent ids, root first, the child last. */
  chain: readonly string[];
  /** Epoch ms at which the chain stops being valid (its earliest link expiry). */
  expiresAt: number;
}

/** What token exchange asks policy (the gateway answers from its policy index). */
export interface DelegationLookup {
  /** The chain ending at `childAgentId` that is live at `now` (epoch ms), or null. */
  liveChain(childAgentId: string, now: number): LiveDelegationChain | null;
}

export interface TokenExchangeDeps {
  settings: OAuthSettings;
  store: OAuthStore;
  agents: AgentsRepo;
  verifier: TokenVerifier;
  revocations: RevocationList;
  issuer: TokenIssuer;
  delegations: DelegationLookup;
  clock: () => number;
  logger: Logger;
}

/** Exchange parameters that must appear at most once (RFC 8693 §2.1 defines each as one value). */
export const TOKEN_EXCHANGE_SINGLE = ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type'];

type Checked<T> = ({ ok: true } & T) | { ok: false; rejection: OAuthRejection };

/**
 * RFC 8693 token exchange for delegation: agent A hands agent B a token that acts for A's subject
 * within what a policy delegation A → B allows. The request (form-encoded, at `/oauth/token`):
 *
 * - `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`
 * - `subject_token` = an access token of A that this gateway issued and that is still live (not
 *   expired, not revoked, nor any token it was itself exchanged from), with
 *   `subject_token_type=urn:ietf:params:oauth:token-type:access_token`: the authority.
 * - B, the actor, is proved either by `actor_token` (B's live access token, `actor_token_type` as
 *   above) issued to the very client that authenticates this request, or, without an actor token,
 *   by a confidential client authenticating as the machine client of B (B's `clientId`, type
 *   `delegated` or `autonomous`).
 * - `resource` (RFC 8707), exactly one: a resource this gateway serves and the subject token's own
 *   audience (a token reaches one resource; an exchanged token cannot reach further).
 *   `audience`, if sent, must name the same resource.
 * - `scope` (optional): a subset of the subject token's scopes; default all of them the client
 *   may hold. `requested_token_type` (optional): only the access token type.
 *
 * Refused unless policy has a live delegation whose last link is A → B (`invalid_grant`). The
 * issued token is B's: `agent_id` B, `client_id` the authenticated client, `sub` unchanged (the
 * subject A acts for), `aud` the resource, `act` the whole chain (RFC 8693 §4.1, current actor
 * outermost), `derived_from` the `jti`s it descends from, and `exp` no later than the subject
 * token, the chain, either agent, and `oauth.accessTokenTtl`. No refresh token: the exchanged
 * token never outlives its subject token.
 *
 * Revocation: revoking the subject token (or anything it came from) revokes the exchanged token at
 * the resource guard through `derived_from`; revoking A's grant revokes it in the store too (it
 * is recorded under A's grant); revoking or expiring the delegation, or suspending an agent on the
 * chain, is refused by policy at call time, which resolves B's chain on every call.
 */
export function createTokenExchange(deps: TokenExchangeDeps): (form: URLSearchParams, client: OAuthClient) => Promise<GrantOutcome> {
  const { settings, store, agents, clock, logger } = deps;
  const fail = (error: OAuthErrorCode, description: string): { ok: false; rejection: OAuthRejection } => ({
    ok: false,
    rejection: reject(error, description),
  });

  /** A token we issued that is still live, with its store row. */
  async function liveToken(token: string, role: 'subject_token' | 'actor_token', now: number): Promise<Checked<{ token: VerifiedToken; row: AccessTokenRow }>> {
    const verdict = await deps.verifier.verifyAccessToken(token);
    if (!verdict.ok) return fail('invalid_grant', `${role} is not valid: ${verdict.message}`);
    const t = verdict.token;
    if (t.issuer !== settings.issuer) return fail('invalid_grant', `${role} was not issued by this gateway`);
    if (t.expiresAt <= now) return fail('invalid_grant', `${role} expired`);
    const lineage = [...t.derivedFrom, t.jti];
    if (lineage.some((jti) => deps.revocations.has(jti))) return fail('invalid_grant', `${role} was revoked`);
    // The store is the truth across instances; the in-memory list can lag one poll behind.
    const rows = await Promise.all(lineage.map((jti) => store.getAccessToken(jti)));
    const row = rows[rows.length - 1];
    if (row === undefined) return fail('invalid_grant', `${role} is unknown`);
    if (rows.some((r) => r === undefined || r.revokedAt !== null)) return fail('invalid_grant', `${role} was revoked`);
    return { ok: true, token: t, row };
  }

  /** B: the agent of the actor token, or of the machine client authenticating. */
  async function actorAgentId(form: URLSearchParams, client: OAuthClient, now: number): Promise<Checked<{ agentId: string }>> {
    const actorToken = form.get('actor_token');
    const actorType = form.get('actor_token_type');
    if (actorToken === null) {
      if (actorType !== null) return fail('invalid_request', 'actor_token_type without actor_token');
      // The client itself is the actor, so it must have proved a secret, not merely named itself.
      if (!client.secretHash) return fail('unauthorized_client', 'a public client must send actor_token');
      const agent = (await agents.findFor(null, client.clientId, 'delegated')) ?? (await agents.findFor(null, client.clientId, 'autonomous'));
      if (!agent) return fail('invalid_grant', `client ${client.clientId} acts as no agent; send actor_token`);
      return { ok: true, agentId: agent.id };
    }
    // RFC 8693 §2.1: actor_token_type is REQUIRED when actor_token is present.
    if (actorType !== ACCESS_TOKEN_TYPE) return fail('invalid_request', `actor_token_type must be ${ACCESS_TOKEN_TYPE}`);
    const actor = await liveToken(actorToken, 'actor_token', now);
    if (!actor.ok) return actor;
    // Holding B's token does not make a client B: it must be the client the token was issued to.
    if (actor.token.clientId !== client.clientId) return fail('invalid_grant', 'actor_token was issued to another client');
    return { ok: true, agentId: actor.token.agentId };
  }

  async function liveAgent(id: string, role: string, now: number): Promise<Checked<{ agent: AgentRow }>> {
    const agent = await agents.get(id);
    if (!agent) return fail('invalid_grant', `${role} agent ${id} no longer exists`);
    const check = usable(agent, now);
    return check.ok ? { ok: true, agent } : fail('invalid_grant', `${role} ${check.description}`);
  }

  function scopesFor(form: URLSearchParams, held: readonly string[], client: OAuthClient): Checked<{ scopes: string[] }> {
    const allowed = client.scopes ?? settings.scopes;
    const requested = form.get('scope');
    if (requested === null) return { ok: true, scopes: held.filter((s) => allowed.includes(s)) };
    const scopes = [...new Set(requested.split(' ').filter(Boolean))];
    const wider = scopes.filter((s) => !held.includes(s));
    if (wider.length > 0) return fail('invalid_scope', `scope exceeds the subject_token: ${wider.join(' ')}`);
    const refused = scopes.filter((s) => !allowed.includes(s));
    if (refused.length > 0) return fail('invalid_scope', `scope not allowed for this client: ${refused.join(' ')}`);
    return { ok: true, scopes };
  }

  return async (form, client) => {
    const now = clock();
    const requested = form.get('requested_token_type');
    if (requested !== null && requested !== ACCESS_TOKEN_TYPE) return fail('invalid_request', `requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
    const subjectToken = form.get('subject_token');
    if (!subjectToken) return fail('invalid_request', 'subject_token is required');
    if (form.get('subject_token_type') !== ACCESS_TOKEN_TYPE) return fail('invalid_request', `subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
    const resources = form.getAll('resource');
    if (resources.length !== 1) return fail('invalid_target', 'exactly one resource is required (RFC 8707)');
    const resource = resources[0];
    if (!settings.resources.has(resource)) return fail('invalid_target', 'resource is not served by this gateway');
    if (form.getAll('audience').some((a) => a !== resource)) return fail('invalid_target', 'audience must name the resource');

    const subject = await liveToken(subjectToken, 'subject_token', now);
    if (!subject.ok) return subject;
    const s = subject.token;
    if (s.audience !== resource) return fail('invalid_target', `subject_token does not reach ${resource}`);
    if (s.derivedFrom.length >= MAX_DERIVED_FROM) return fail('invalid_grant', 'subject_token is at the end of the longest exchange lineage');
    const actor = await actorAgentId(form, client, now);
    if (!actor.ok) return actor;
    const parentId = s.agentId;
    const childId = actor.agentId;
    if (parentId === childId) return fail('invalid_grant', 'subject_token already acts as this agent; nothing to delegate');
    const parent = await liveAgent(parentId, 'subject', now);
    if (!parent.ok) return parent;
    const child = await liveAgent(childId, 'actor', now);
    if (!child.ok) return child;

    // The authority: a delegation link parent → child that policy holds live right now.
    const live = deps.delegations.liveChain(childId, now);
    const chain = live?.chain ?? [];
    if (!live || chain.length < 2 || chain[chain.length - 1] !== childId || chain[chain.length - 2] !== parentId) {
      return fail('invalid_grant', `no live delegation from agent ${parentId} to agent ${childId}`);
    }
    if (live.expiresAt <= now) return fail('invalid_grant', `the delegation from agent ${parentId} to agent ${childId} expired`);
    const scopes = scopesFor(form, s.scopes, client);
    if (!scopes.ok) return scopes;
    const notAfter = Math.min(s.expiresAt, live.expiresAt, parent.agent.expiresAt ?? Infinity, child.agent.expiresAt ?? Infinity);
    if (!hasLifetime(notAfter, now)) return fail('invalid_grant', 'the subject_token or the delegation ends within a second');

    const access = await deps.issuer.issueAccessToken({
      subject: s.subject, // RFC 8693 §1.1 delegation: the subject stays, the actor changes
      clientId: client.clientId,
      agentId: childId,
      tenant: child.agent.tenant,
      resource,
      scopes: scopes.scopes,
      grantId: subject.row.grantId,
      grantType: TOKEN_EXCHANGE_GRANT,
      notAfter,
      act: actClaimFor(chain),
      derivedFrom: [...s.derivedFrom, s.jti],
    });
    logger.info({ parentAgentId: parentId, agentId: childId, clientId: client.clientId, resource, chain, jti: access.jti }, 'token exchanged for a delegation');
    return {
      ok: true,
      // RFC 8693 §2.2.1: issued_token_type is required; token_type is the OAuth one.
      body: {
        access_token: access.token,
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: 'Bearer',
        expires_in: access.expiresIn,
        scope: scopes.scopes.join(' '),
      },
    };
  };
}
