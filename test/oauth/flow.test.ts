import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeInBrowser } from '../helpers/oauth-provider.js';
import { authorizationUrl, callMcp, codeFlow, discover, insecure, obtainCode, postToken, registerPublicClient } from './client.js';
import { MACHINE, startHarness, USER, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

describe('metadata', () => {
  it('serves RFC 8414 metadata that a strict client accepts', async () => {
    const as = await discover(h);
    expect(as.issuer).toBe(h.baseUrl);
    expect(as.code_challenge_methods_supported).toEqual(['S256']);
    expect(as.authorization_response_iss_parameter_supported).toBe(true);
    expect(as.client_id_metadata_document_supported).toBe(true);
    expect(as.registration_endpoint).toBe(`${h.baseUrl}/oauth/register`);
    expect(as.grant_types_supported).toContain('client_credentials');
  });

  it('serves RFC 9728 metadata per server, and for the aggregated endpoint', async () => {
    const res = await fetch(`${h.baseUrl}/.well-known/oauth-protected-resource/mcp/alpha`);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const prm = (await res.json()) as Record<string, unknown>;
    expect(prm).toMatchObject({ resource: h.resource('alpha'), authorization_servers: [h.baseUrl], scopes_supported: ['mcp'] });
    const agg = (await (await fetch(`${h.baseUrl}/.well-known/oauth-protected-resource/mcp`)).json()) as Record<string, unknown>;
    expect(agg.resource).toBe(`${h.baseUrl}/mcp`);
    expect((await fetch(`${h.baseUrl}/.well-known/oauth-protected-resource/mcp/nope`)).status).toBe(404);
  });

  it('publishes the signing key without private parts', async () => {
    const jwks = (await (await fetch(`${h.baseUrl}/oauth/jwks`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0].d).toBeUndefined();
  });

  it('answers a request without a token with the RFC 9728 challenge', async () => {
    const r = await callMcp(h, 'alpha');
    expect(r.status).toBe(401);
    expect(r.wwwAuthenticate).toBe(
      `Bearer resource_metadata="${h.baseUrl}/.well-known/oauth-protected-resource/mcp/alpha", scope="mcp"`,
    );
  });
});

describe('dynamic client registration (RFC 7591)', () => {
  const register = async (body: unknown) => {
    const res = await fetch(`${h.baseUrl}/oauth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it.each([
    ['no redirect_uris', {}, 'invalid_redirect_uri'],
    ['http on a public host', { redirect_uris: ['http://example.com/cb'] }, 'invalid_redirect_uri'],
    ['a custom scheme', { redirect_uris: ['myapp://cb'] }, 'invalid_redirect_uri'],
    ['a javascript: URI', { redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri'],
    ['a fragment', { redirect_uris: ['https://app.example/cb#x'] }, 'invalid_redirect_uri'],
    ['an unknown grant', { redirect_uris: ['https://app.example/cb'], grant_types: ['password'] }, 'invalid_client_metadata'],
    ['client_credentials', { redirect_uris: ['https://app.example/cb'], grant_types: ['client_credentials'] }, 'invalid_client_metadata'],
    ['implicit', { redirect_uris: ['https://app.example/cb'], response_types: ['token'] }, 'invalid_client_metadata'],
    ['an unknown auth method', { redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata'],
    ['an unknown scope', { redirect_uris: ['https://app.example/cb'], scope: 'mcp admin' }, 'invalid_client_metadata'],
    ['an http logo', { redirect_uris: ['https://app.example/cb'], logo_uri: 'http://evil.example/x.png' }, 'invalid_client_metadata'],
    ['a body that is not JSON', '{nope', 'invalid_client_metadata'],
  ])('refuses %s', async (_name, body, error) => {
    const r = await register(body);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe(error);
    expect(typeof r.body.error_description).toBe('string');
  });

  it('issues a hashed secret to a confidential client (client_secret_basic by default)', async () => {
    const r = await register({ redirect_uris: ['https://app.example/cb'], client_name: 'Conf' });
    expect(r.status).toBe(201);
    expect(r.body.token_endpoint_auth_method).toBe('client_secret_basic');
    expect(typeof r.body.client_secret).toBe('string');
    const row = await h.store.getClient(r.body.client_id as string);
    expect(row?.secretHash).not.toBe(r.body.client_secret);
    expect(row?.secretHash).toBeTruthy();
  });

  it('refuses oversized registrations', async () => {
    const r = await register({ redirect_uris: ['https://app.example/cb'], client_name: 'x'.repeat(20_000) });
    expect(r.status).toBe(413);
  });
});

describe('authorization code flow with PKCE S256', () => {
  it('issues an RFC 9068 token the guard accepts at its resource only, then rotates the refresh token', async () => {
    const { as, client, tokens } = await codeFlow(h, h.resource('alpha'));
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.scope).toBe('mcp');
    expect(tokens.refresh_token).toBeTruthy();
    const [header, payload] = tokens.access_token.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(payload).toMatchObject({ iss: h.baseUrl, aud: h.resource('alpha'), sub: 'alice', client_id: client.client_id, scope: 'mcp' });
    expect(typeof payload.agent_id).toBe('string');
    expect(typeof payload.jti).toBe('string');

    const ok = await callMcp(h, 'alpha', tokens.access_token);
    expect(ok.status).toBe(200);
    expect(ok.body.principal).toMatchObject({ subject: 'alice', clientId: client.client_id, agentId: payload.agent_id, key: `agent:${payload.agent_id}` });
    const agent = await h.agents.get(payload.agent_id);
    expect(agent).toMatchObject({ userId: 'alice', clientId: client.client_id, type: 'interactive', status: 'active' });

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, insecure),
    );
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect((await callMcp(h, 'alpha', refreshed.access_token)).status).toBe(200);
  });

  it('remembers consent per user and client, and reuses the agent', async () => {
    const as = await discover(h);
    const client = await registerPublicClient(as);
    const first = await authorizationUrl(as, client, h.resource('alpha'));
    const { outcome } = await obtainCode(as, client, first);
    expect(outcome.kind).toBe('redirect');
    // The same browser session again: no login, no consent page, straight back with a code.
    // (authorizeInBrowser uses a fresh jar, so this checks the stored consent after a new login.)
    const second = await authorizationUrl(as, client, h.resource('alpha'));
    const res = await authorizeInBrowser(second.url, { ...USER, decision: 'deny' });
    expect(res.kind).toBe('redirect');
    if (res.kind === 'redirect') expect(res.url.searchParams.get('code')).toBeTruthy();
    const agents = await h.agents.listByUser('alice');
    expect(agents.filter((a) => a.clientId === client.client_id)).toHaveLength(1);
  });

  it('sends access_denied back when the user denies', async () => {
    const as = await discover(h);
    const client = await registerPublicClient(as);
    const started = await authorizationUrl(as, client, h.resource('beta'));
    const res = await authorizeInBrowser(started.url, { ...USER, decision: 'deny' });
    expect(res.kind).toBe('redirect');
    if (res.kind !== 'redirect') return;
    expect(res.status).toBe(303);
    expect(res.url.searchParams.get('error')).toBe('access_denied');
    expect(res.url.searchParams.get('state')).toBe(started.state);
    expect(res.url.searchParams.get('iss')).toBe(h.baseUrl);
  });

  it('shows the login page again on a wrong password', async () => {
    const as = await discover(h);
    const client = await registerPublicClient(as);
    const started = await authorizationUrl(as, client, h.resource('alpha'));
    const res = await authorizeInBrowser(started.url, { username: 'alice', password: 'wrong' });
    expect(res).toMatchObject({ kind: 'page', status: 401 });
  });

  it('serves pages that cannot be framed and sets host-only HttpOnly cookies', async () => {
    const as = await discover(h);
    const client = await registerPublicClient(as);
    const started = await authorizationUrl(as, client, h.resource('alpha'));
    const res = await fetch(started.url, { redirect: 'manual' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const cookie = res.headers.getSetCookie()[0];
    // Plain-http loopback issuer: no __Host- prefix possible, same attributes otherwise.
    expect(cookie).toMatch(/^portcullis-browser=/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).not.toMatch(/Domain=/i);
  });

  it('refuses a consent post without the CSRF token', async () => {
    const as = await discover(h);
    const client = await registerPublicClient(as);
    const started = await authorizationUrl(as, client, h.resource('alpha'));
    const res = await fetch(started.url, { redirect: 'manual' });
    const cookie = res.headers.getSetCookie()[0].split(';')[0];
    const html = await res.text();
    const interaction = /name="interaction" value="([^"]+)"/.exec(html)![1];
    const post = await fetch(`${h.baseUrl}/oauth/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ interaction, csrf_token: 'forged', username: USER.username, password: USER.password }),
    });
    expect(post.status).toBe(403);
  });
});

describe('client_credentials', () => {
  it('issues a token for an autonomous agent of a confidential client', async () => {
    const r = await postToken(
      h,
      { grant_type: 'client_credentials', resource: h.resource('beta') },
      { authorization: `Basic ${Buffer.from(`${MACHINE.clientId}:${MACHINE.clientSecret}`).toString('base64')}` },
    );
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.body.refresh_token).toBeUndefined();
    const ok = await callMcp(h, 'beta', r.body.access_token as string);
    expect(ok.body.principal).toMatchObject({ subject: MACHINE.clientId, clientId: MACHINE.clientId });
    const agent = await h.agents.get((ok.body.principal as { agentId: string }).agentId);
    expect(agent).toMatchObject({ type: 'autonomous', userId: null });
  });

  it('refuses a wrong secret with 401 invalid_client', async () => {
    const r = await postToken(
      h,
      { grant_type: 'client_credentials', resource: h.resource('beta') },
      { authorization: `Basic ${Buffer.from(`${MACHINE.clientId}:nope`).toString('base64')}` },
    );
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('invalid_client');
    expect(r.headers.get('www-authenticate')).toMatch(/^Basic/);
  });

  it('refuses RFC 8693 token exchange until delegation lands', async () => {
    const r = await postToken(h, { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', client_id: MACHINE.clientId, client_secret: MACHINE.clientSecret });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('unsupported_grant_type');
  });
});

describe('revocation (RFC 7009)', () => {
  it('revoking a refresh token revokes its grant, access tokens included', async () => {
    const { as, client, tokens } = await codeFlow(h, h.resource('alpha'));
    expect((await callMcp(h, 'alpha', tokens.access_token)).status).toBe(200);
    const res = await oauth.revocationRequest(as, client, oauth.None(), tokens.refresh_token!, insecure);
    await oauth.processRevocationResponse(res);
    expect((await callMcp(h, 'alpha', tokens.access_token)).status).toBe(401);
    const r = await postToken(h, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: client.client_id });
    expect(r.body.error).toBe('invalid_grant');
  });

  it('answers 200 for an unknown token', async () => {
    const as = await discover(h);
    const client = await registerPublicClient(as);
    const res = await oauth.revocationRequest(as, client, oauth.None(), 'not-a-token', insecure);
    expect(res.status).toBe(200);
  });
});

