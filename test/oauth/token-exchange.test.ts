/**
 * RFC 8693 token exchange over real HTTP, with the real policy index deciding which delegations
 * are live (`liveChainFrom` below is the adapter the gateway passes as `delegations`).
 */
import * as oauth from 'oauth4webapi';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { peekJwtClaims } from '../../src/oauth/jwt.js';
import type { DelegationLookup } from '../../src/oauth/token-exchange.js';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '../../src/oauth/token-exchange-uris.js';
import { compileDelegation, createPolicyIndex, resolveChain, type CompiledDelegation, type PolicyIndex } from '../../src/policy/index.js';
import { callMcp, codeFlow, discover, insecure, postToken } from './client.js';
import { startHarness, type Harness } from './harness.js';

/** What the gateway passes as `delegations`: the chain policy resolves, if live at `now`. */
function liveChainFrom(index: PolicyIndex): DelegationLookup {
  return {
    liveChain(childAgentId, now) {
      const resolved = resolveChain(index, childAgentId);
      if (!resolved.ok || resolved.chain.links.length === 0) return null;
      const { agentIds, notBefore, notAfter } = resolved.chain;
      return now >= notBefore && now < notAfter ? { chain: agentIds, expiresAt: notAfter } : null;
    },
  };
}

const B = { clientId: 'agent-b', clientSecret: 'agent-b-secret-0123456789abcdef-0123456789' };
const C = { clientId: 'agent-c', clientSecret: 'agent-c-secret-0123456789abcdef-0123456789' };
type Machine = typeof B;
const basic = (m: Machine) => ({ authorization: `Basic ${Buffer.from(`${m.clientId}:${m.clientSecret}`).toString('base64')}` });

const index = createPolicyIndex();
let h: Harness;
let bAgent: string;
let cAgent: string;
let links: CompiledDelegation[] = [];

beforeAll(async () => {
  h = await startHarness({
    clients: [B, C].map((m) => ({ ...m, name: m.clientId, grantTypes: ['client_credentials' as const] })),
    delegations: liveChainFrom(index),
  });
  // Each machine client's first client_credentials call creates its agent.
  const agentOf = async (m: Machine) =>
    claims((await postToken(h, { grant_type: 'client_credentials', resource: h.resource('alpha') }, basic(m))).body.access_token as string).agent_id as string;
  bAgent = await agentOf(B);
  cAgent = await agentOf(C);
});
afterAll(async () => {
  await h.close();
});
afterEach(() => {
  for (const l of links) index.removeDelegation(l.id);
  links = [];
});

function claims(token: string): Record<string, unknown> {
  return peekJwtClaims(token) as Record<string, unknown>;
}

/** A delegation link in policy, valid from now for `ttlMs`. */
function delegate(parent: string, child: string, ttlMs = 2 * 3600_000): CompiledDelegation {
  const id = `d${links.length + 1}`;
  const compiled = compileDelegation({
    id,
    parentAgentId: parent,
    childAgentId: child,
    maxDepth: 3,
    startsAt: h.clock.now,
    expiresAt: h.clock.now + ttlMs,
    permissions: [{ id: `${id}.p`, resource: 'mcp:alpha:*', actions: ['call'] }],
  });
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
  index.putDelegation(compiled.compiled);
  links.push(compiled.compiled);
  return compiled.compiled;
}

/** Agent A: alice's interactive agent, through the code flow, with its token for alpha. */
async function agentA() {
  const { client, tokens } = await codeFlow(h, h.resource('alpha'));
  return { client, token: tokens.access_token, agentId: claims(tokens.access_token).agent_id as string };
}

function exchange(subjectToken: string, actor: Machine, extra: Record<string, string | null> = {}, headers = basic(actor)) {
  const form: Record<string, string | null> = {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: subjectToken,
    subject_token_type: ACCESS_TOKEN_TYPE,
    resource: h.resource('alpha'),
    ...extra,
  };
  const sent = Object.fromEntries(Object.entries(form).filter((e): e is [string, string] => e[1] !== null));
  return postToken(h, sent, headers);
}

describe('token exchange (RFC 8693)', () => {
  it('is advertised in RFC 8414 metadata', async () => {
    expect((await discover(h)).grant_types_supported).toContain(TOKEN_EXCHANGE_GRANT);
  });

  it('hands agent B a token of its own: nested act, agent_id, aud, exp no later than the subject token', async () => {
    const a = await agentA();
    delegate(a.agentId, bAgent);
    const as = await discover(h);
    // oauth4webapi as the strict client: it validates the token response's shape.
    const res = await oauth.genericTokenEndpointRequest(
      as,
      { client_id: B.clientId },
      oauth.ClientSecretBasic(B.clientSecret),
      TOKEN_EXCHANGE_GRANT,
      { subject_token: a.token, subject_token_type: ACCESS_TOKEN_TYPE, resource: h.resource('alpha') },
      insecure,
    );
    const body = await oauth.processGenericTokenEndpointResponse(as, { client_id: B.clientId }, res);
    expect(body).toMatchObject({ token_type: 'bearer', issued_token_type: ACCESS_TOKEN_TYPE, scope: 'mcp' });
    expect(body.refresh_token).toBeUndefined();
    const subject = claims(a.token);
    const issued = claims(body.access_token);
    expect(issued).toMatchObject({
      iss: h.baseUrl,
      sub: 'alice', // the subject stays; the actor changes
      client_id: B.clientId,
      agent_id: bAgent,
      aud: h.resource('alpha'),
      act: { sub: bAgent, act: { sub: a.agentId } },
      derived_from: [subject.jti],
    });
    expect((issued.act as Record<string, unknown>).act).not.toHaveProperty('act');
    expect(issued.exp as number).toBeLessThanOrEqual(subject.exp as number);
    expect((issued.exp as number) - (issued.iat as number)).toBeLessThanOrEqual(h.oauth.settings.accessTokenTtl);
    expect(body.expires_in).toBe((issued.exp as number) - (issued.iat as number));
    const call = await callMcp(h, 'alpha', body.access_token);
    expect(call.status).toBe(200);
    expect(call.body.principal).toMatchObject({ agentId: bAgent, subject: 'alice', clientId: B.clientId });
  });

  it.each([
    ['the delegation expiry', 600_000, 0, (t: { link: number; subject: number }) => t.link],
    ['the subject token expiry', 2 * 3600_000, 3000_000, (t: { link: number; subject: number }) => t.subject],
  ])('clamps exp to %s', async (_name, linkTtl, advance, expected) => {
    const a = await agentA();
    const link = delegate(a.agentId, bAgent, linkTtl);
    h.clock.advance(advance);
    const r = await exchange(a.token, B);
    expect(r.status).toBe(200);
    const exp = claims(r.body.access_token as string).exp;
    expect(exp).toBe(expected({ link: Math.floor(link.expiresAt / 1000), subject: claims(a.token).exp as number }));
  });

  it('accepts B proving itself with its own access token as actor_token, issued to the asking client only', async () => {
    const a = await agentA();
    delegate(a.agentId, bAgent);
    const own = (await postToken(h, { grant_type: 'client_credentials', resource: h.resource('beta') }, basic(B))).body.access_token as string;
    const actor = { actor_token: own, actor_token_type: ACCESS_TOKEN_TYPE };
    const ok = await exchange(a.token, B, actor);
    expect(ok.status).toBe(200);
    expect(claims(ok.body.access_token as string)).toMatchObject({ agent_id: bAgent, act: { sub: bAgent, act: { sub: a.agentId } } });
    // C presenting B's token is not B.
    const stolen = await exchange(a.token, C, actor);
    expect(stolen).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: 'actor_token was issued to another client' } });
  });

  it('refuses without a live delegation from A to B (none, reversed, revoked)', async () => {
    const a = await agentA();
    const none = await exchange(a.token, B);
    expect(none).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(none.body.error_description).toBe(`no live delegation from agent ${a.agentId} to agent ${bAgent}`);
    const reversed = delegate(bAgent, a.agentId);
    expect((await exchange(a.token, B)).body.error).toBe('invalid_grant');
    index.removeDelegation(reversed.id);
    const link = delegate(a.agentId, bAgent);
    expect((await exchange(a.token, B)).status).toBe(200);
    index.putDelegation({ ...link, revokedAt: h.clock.now });
    expect((await exchange(a.token, B)).body).toMatchObject({ error: 'invalid_grant', error_description: `no live delegation from agent ${a.agentId} to agent ${bAgent}` });
  });

  it('refuses a resource the subject token cannot reach', async () => {
    const a = await agentA();
    delegate(a.agentId, bAgent);
    const other = await exchange(a.token, B, { resource: h.resource('beta') });
    expect(other).toMatchObject({ status: 400, body: { error: 'invalid_target', error_description: `subject_token does not reach ${h.resource('beta')}` } });
    expect((await exchange(a.token, B, { resource: `${h.baseUrl}/mcp/nope` })).body.error).toBe('invalid_target');
    expect((await exchange(a.token, B, { resource: null })).body.error).toBe('invalid_target');
    expect((await exchange(a.token, B, { audience: 'https://elsewhere.example' })).body.error).toBe('invalid_target');
  });

  it('refuses once the delegation has expired', async () => {
    const a = await agentA();
    delegate(a.agentId, bAgent, 60_000);
    expect((await exchange(a.token, B)).status).toBe(200);
    h.clock.advance(61_000);
    expect((await exchange(a.token, B)).body).toMatchObject({ error: 'invalid_grant', error_description: `no live delegation from agent ${a.agentId} to agent ${bAgent}` });
  });

  it('revoking the subject token revokes the tokens exchanged from it, cached or not', async () => {
    const a = await agentA();
    delegate(a.agentId, bAgent);
    const b = (await exchange(a.token, B)).body.access_token as string;
    expect((await callMcp(h, 'alpha', b)).status).toBe(200); // now in the guard's cache
    const res = await fetch(`${h.baseUrl}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: a.token, client_id: a.client.client_id }),
    });
    expect(res.status).toBe(200);
    const call = await callMcp(h, 'alpha', b);
    expect(call).toMatchObject({ status: 401, body: { error: 'invalid_token', error_description: 'token revoked' } });
    expect((await exchange(a.token, B)).body).toMatchObject({ error: 'invalid_grant', error_description: 'subject_token was revoked' });
  });

  it('nests act along a two-hop chain A → B → C, and revoking A cuts C', async () => {
    const a = await agentA();
    delegate(a.agentId, bAgent);
    delegate(bAgent, cAgent);
    const b = (await exchange(a.token, B)).body.access_token as string;
    // C's own client exchanges B's (exchanged) token: the chain grows by one actor.
    const r = await exchange(b, C);
    expect(r.status).toBe(200);
    const c = r.body.access_token as string;
    expect(claims(c)).toMatchObject({
      sub: 'alice',
      agent_id: cAgent,
      client_id: C.clientId,
      act: { sub: cAgent, act: { sub: bAgent, act: { sub: a.agentId } } },
      derived_from: [claims(a.token).jti, claims(b).jti],
    });
    // A's token cannot skip B: the last link must be A → C.
    expect((await exchange(a.token, C)).body.error).toBe('invalid_grant');
    expect((await callMcp(h, 'alpha', c)).status).toBe(200);
    await h.store.revokeAccessToken(claims(a.token).jti as string, h.clock.now).then((t) => t && h.oauth.revocations.add(t));
    expect((await callMcp(h, 'alpha', c)).status).toBe(401);
    expect((await exchange(b, C)).body).toMatchObject({ error: 'invalid_grant', error_description: 'subject_token was revoked' });
  });

  it.each([
    ['a subject_token_type other than access_token', { subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' }, 'invalid_request'],
    ['no subject_token', { subject_token: null }, 'invalid_request'],
    ['a requested_token_type other than access_token', { requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }, 'invalid_request'],
    ['an actor_token without its type', { actor_token: 'x' }, 'invalid_request'],
    ['a forged subject_token', { subject_token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' }, 'invalid_grant'],
    ['a scope wider than the subject token', { scope: 'mcp admin' }, 'invalid_scope'],
  ])('refuses %s', async (_name, extra, error) => {
    const a = await agentA();
    delegate(a.agentId, bAgent);
    const r = await exchange(a.token, B, extra);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe(error);
    expect(typeof r.body.error_description).toBe('string');
  });

  it('refuses a public client acting without an actor_token', async () => {
    const a = await agentA();
    delegate(a.agentId, bAgent);
    const r = await exchange(a.token, B, { client_id: a.client.client_id }, {} as ReturnType<typeof basic>);
    expect(r.body).toMatchObject({ error: 'unauthorized_client', error_description: 'a public client must send actor_token' });
  });
});

describe('token exchange without policy delegations', () => {
  it('is neither advertised nor accepted', async () => {
    const plain = await startHarness();
    try {
      expect((await discover(plain)).grant_types_supported).not.toContain(TOKEN_EXCHANGE_GRANT);
      const r = await postToken(plain, { grant_type: TOKEN_EXCHANGE_GRANT, subject_token: 'x', subject_token_type: ACCESS_TOKEN_TYPE }, basic({ clientId: 'nightly-job', clientSecret: 'machine-secret-0123456789abcdef-0123456789' }));
      expect(r.body.error).toBe('unsupported_grant_type');
    } finally {
      await plain.close();
    }
  });
});
