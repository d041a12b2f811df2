/**
 * Agents made by OAuth follow the `agents` config: `maxPerUser` at consent, `tokenExpiry` as the
 * new agent's lifetime, and the `onAgentCreated` hook once per new agent (rolled back on failure).
 */
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeInBrowser } from '../helpers/oauth-provider.js';
import { peekJwtClaims } from '../../src/oauth/jwt.js';
import type { AgentRow } from '../../src/store/agents-repo.js';
import { authorizationUrl, discover, insecure, postToken, REDIRECT_URI, registerPublicClient } from './client.js';
import { MACHINE, startHarness, USER, type Harness } from './harness.js';

const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });
const FLAKY = { clientId: 'flaky-job', clientSecret: 'flaky-secret-0123456789abcdef-0123456789ab' };
const FRESH = { clientId: 'fresh-job', clientSecret: 'fresh-secret-0123456789abcdef-0123456789ab' };

/** Consents for `client` in a fresh browser; the redirect's parameters, and the token if a code came back. */
async function consent(h: Harness, as: oauth.AuthorizationServer, client: oauth.Client) {
  const started = await authorizationUrl(as, client, h.resource('alpha'));
  const outcome = await authorizeInBrowser(started.url, USER);
  if (outcome.kind !== 'redirect') throw new Error(`expected a redirect, got page ${outcome.status}`);
  const params = outcome.url.searchParams;
  if (!params.has('code')) return { params, token: undefined };
  const valid = oauth.validateAuthResponse(as, client, outcome.url, started.state);
  const res = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), valid, REDIRECT_URI, started.verifier, insecure);
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, res);
  return { params, token: tokens.access_token };
}

const agentOf = (token: string) => peekJwtClaims(token)!.agent_id as string;

describe('agents.tokenExpiry and onAgentCreated', () => {
  let h: Harness;
  let as: oauth.AuthorizationServer;
  const created: AgentRow[] = [];
  const failFor = new Set<string>();

  beforeAll(async () => {
    h = await startHarness({
      agents: { tokenExpiry: 600 },
      clients: [FLAKY, FRESH].map((m) => ({ ...m, grantTypes: ['client_credentials' as const] })),
      onAgentCreated: async (agent) => {
        created.push(agent);
        if (failFor.has(agent.clientId)) throw new Error('admin service unavailable');
      },
    });
    as = await discover(h);
  });
  afterAll(async () => {
    await h.close();
  });

  it('gives a consented agent tokenExpiry to live, and no token outlives it', async () => {
    const client = await registerPublicClient(as);
    const { token } = await consent(h, as, client);
    const agent = (await h.agents.get(agentOf(token!)))!;
    expect(agent).toMatchObject({ type: 'interactive', userId: 'alice', status: 'active' });
    expect(agent.expiresAt).toBe(agent.createdAt + 600_000);
    // accessTokenTtl is 3600 s: the agent's end comes first.
    expect(peekJwtClaims(token!)!.exp).toBe(Math.floor(agent.expiresAt! / 1000));
  });

  it('calls onAgentCreated exactly once per new agent, not when an agent is reused', async () => {
    const before = created.length;
    const client = await registerPublicClient(as);
    const first = await consent(h, as, client);
    const second = await consent(h, as, client);
    expect(agentOf(second.token!)).toBe(agentOf(first.token!));
    expect(created.slice(before).map((a) => a.id)).toEqual([agentOf(first.token!)]);
    expect(created[before]).toMatchObject({ clientId: client.client_id, userId: 'alice', status: 'active' });
  });

  it('creates one machine agent and calls the hook once under concurrent client_credentials', async () => {
    const before = created.length;
    const results = await Promise.all(
      Array.from({ length: 6 }, () => postToken(h, { grant_type: 'client_credentials', resource: h.resource('alpha') }, basic(FRESH.clientId, FRESH.clientSecret))),
    );
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
    const ids = new Set(results.map((r) => agentOf(r.body.access_token as string)));
    expect(ids.size).toBe(1);
    expect(created.slice(before)).toHaveLength(1);
    const agent = (await h.agents.get([...ids][0]))!;
    expect(agent).toMatchObject({ type: 'autonomous', userId: null, expiresAt: agent.createdAt + 600_000 });
  });

  it('rolls a new agent back (revoked) when onAgentCreated fails, and issues nothing', async () => {
    failFor.add(FLAKY.clientId);
    const r = await postToken(h, { grant_type: 'client_credentials', resource: h.resource('alpha') }, basic(FLAKY.clientId, FLAKY.clientSecret));
    expect(r.status).toBe(500);
    expect(r.body.error).toBe('server_error');
    const row = (await h.agents.findFor(null, FLAKY.clientId, 'autonomous'))!;
    expect(row.status).toBe('revoked');

    const client = await registerPublicClient(as);
    failFor.add(client.client_id);
    const refused = await consent(h, as, client);
    expect(refused.token).toBeUndefined();
    expect(refused.params.get('error')).toBe('server_error');
    const rolledBack = (await h.agents.listByUser('alice')).filter((a) => a.clientId === client.client_id);
    expect(rolledBack.map((a) => a.status)).toEqual(['revoked']);
    // A revoked agent is never silently replaced while it lives.
    failFor.delete(client.client_id);
    expect((await consent(h, as, client)).params.get('error')).toBe('access_denied');
  });

  it('replaces an expired interactive agent at the next consent; an expired machine agent stays refused', async () => {
    const client = await registerPublicClient(as);
    const old = agentOf((await consent(h, as, client)).token!);
    const cc = () => postToken(h, { grant_type: 'client_credentials', resource: h.resource('alpha') }, basic(MACHINE.clientId, MACHINE.clientSecret));
    expect((await cc()).status).toBe(200);
    h.clock.advance(601_000);
    const before = created.length;
    const renewed = await consent(h, as, client);
    expect(agentOf(renewed.token!)).not.toBe(old);
    expect((await h.agents.get(old))!.status).toBe('revoked'); // no longer counts against maxPerUser
    expect(created.slice(before)).toHaveLength(1);
    const refused = await cc();
    expect(refused.body.error).toBe('invalid_grant');
    expect(refused.body.error_description).toMatch(/expired/);
  });
});

describe('agents.maxPerUser', () => {
  let h: Harness;
  let as: oauth.AuthorizationServer;

  beforeAll(async () => {
    h = await startHarness({ agents: { maxPerUser: 2 } });
    as = await discover(h);
  });
  afterAll(async () => {
    await h.close();
  });

  it('refuses consent for a new agent beyond the cap with access_denied; revoked agents do not count', async () => {
    const [one, two, three] = await Promise.all([registerPublicClient(as), registerPublicClient(as), registerPublicClient(as)]);
    const first = await consent(h, as, one);
    expect((await consent(h, as, two)).token).toBeDefined();
    const refused = await consent(h, as, three);
    expect(refused.token).toBeUndefined();
    expect(refused.params.get('error')).toBe('access_denied');
    expect(refused.params.get('error_description')).toBe(
      'user alice already has 2 agents, the most allowed (agents.maxPerUser is 2); revoke one to approve another client',
    );
    expect(refused.params.get('iss')).toBe(h.baseUrl);
    // The existing agents keep working.
    expect((await consent(h, as, one)).token).toBeDefined();
    await h.agents.setStatus(agentOf(first.token!), 'revoked');
    expect((await consent(h, as, three)).token).toBeDefined();
    expect((await h.agents.listByUser('alice')).filter((a) => a.status !== 'revoked')).toHaveLength(2);
  });

  it('lets exactly one of several concurrent consents take the last place', async () => {
    const live = (await h.agents.listByUser('alice')).filter((a) => a.status !== 'revoked');
    await h.agents.setStatus(live[0].id, 'revoked');
    const clients = await Promise.all(Array.from({ length: 4 }, () => registerPublicClient(as)));
    const outcomes = await Promise.all(clients.map((c) => consent(h, as, c)));
    expect(outcomes.filter((o) => o.token !== undefined)).toHaveLength(1);
    expect(outcomes.filter((o) => o.params.get('error') === 'access_denied')).toHaveLength(3);
    expect((await h.agents.listByUser('alice')).filter((a) => a.status !== 'revoked')).toHaveLength(2);
  });
});
