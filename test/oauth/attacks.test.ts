import { createHmac } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEs256Key, importKey, signJwt } from '../../src/oauth/jwt.js';
import { authorizationUrl, callMcp, codeFlow, discover, insecure, obtainCode, postToken, REDIRECT_URI, registerPublicClient } from './client.js';
import { startHarness, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const decode = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
const header = (token: string) => JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as Record<string, unknown>;

function expectInvalidToken(r: Awaited<ReturnType<typeof callMcp>>, description?: string) {
  expect(r.status).toBe(401);
  expect(r.body.error).toBe('invalid_token');
  expect(r.wwwAuthenticate).toMatch(/^Bearer error="invalid_token"/);
  expect(r.wwwAuthenticate).toContain(`resource_metadata="${h.baseUrl}/.well-known/oauth-protected-resource/mcp/`);
  if (description) expect(r.body.error_description).toBe(description);
}

/** Tokens for alpha, freshly issued through the real flow. */
async function alphaTokens() {
  return codeFlow(h, h.resource('alpha'));
}

/** A code ready to redeem, with what redeeming it needs. */
async function freshCode(resource = h.resource('alpha')) {
  const as = await discover(h);
  const client = await registerPublicClient(as);
  const started = await authorizationUrl(as, client, resource);
  const { params } = await obtainCode(as, client, started);
  return { as, client, verifier: started.verifier, code: params.get('code')! };
}

const redeem = (client: oauth.Client, code: string, verifier: string | undefined, extra: Record<string, string> = {}) =>
  postToken(h, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    client_id: client.client_id,
    ...(verifier === undefined ? {} : { code_verifier: verifier }),
    ...extra,
  });

describe('forged and misused access tokens', () => {
  it('audience swap: a token for /mcp/alpha is refused on /mcp/beta', async () => {
    const { tokens } = await alphaTokens();
    expect((await callMcp(h, 'alpha', tokens.access_token)).status).toBe(200);
    expectInvalidToken(await callMcp(h, 'beta', tokens.access_token), 'token audience is not this resource');
  });

  it('expired token: refused both from the cache and when first seen', async () => {
    const cached = await alphaTokens();
    const uncached = await alphaTokens();
    expect((await callMcp(h, 'alpha', cached.tokens.access_token)).status).toBe(200);
    h.clock.advance((3600 + 31) * 1000);
    try {
      expectInvalidToken(await callMcp(h, 'alpha', cached.tokens.access_token), 'token expired');
      expectInvalidToken(await callMcp(h, 'alpha', uncached.tokens.access_token), 'token expired');
    } finally {
      h.clock.advance(-(3600 + 31) * 1000);
    }
  });

  it('alg none is refused', async () => {
    const { tokens } = await alphaTokens();
    const forged = `${b64({ ...header(tokens.access_token), alg: 'none' })}.${b64(decode(tokens.access_token))}.`;
    expectInvalidToken(await callMcp(h, 'alpha', forged), 'token signing algorithm not allowed');
  });

  it('HS256 signed with our public key as the secret is refused (algorithm confusion)', async () => {
    const jwks = (await (await fetch(`${h.baseUrl}/oauth/jwks`)).json()) as { keys: Record<string, unknown>[] };
    const { tokens } = await alphaTokens();
    const head = b64({ alg: 'HS256', typ: 'at+jwt', kid: jwks.keys[0].kid });
    const body = b64({ ...decode(tokens.access_token), jti: 'hs-confusion' });
    const sig = createHmac('sha256', JSON.stringify(jwks.keys[0])).update(`${head}.${body}`).digest('base64url');
    expectInvalidToken(await callMcp(h, 'alpha', `${head}.${body}.${sig}`), 'token signing algorithm not allowed');
  });

  it('tampered payload (scope and audience rewritten) fails the signature', async () => {
    const { tokens } = await alphaTokens();
    const [head, , sig] = tokens.access_token.split('.');
    const payload = { ...decode(tokens.access_token), aud: h.resource('beta'), scope: 'mcp admin' };
    expectInvalidToken(await callMcp(h, 'beta', `${head}.${b64(payload)}.${sig}`), 'token signature invalid');
  });

  it('the signature of a cached token under a rewritten payload is refused, and the token still works', async () => {
    const { tokens } = await alphaTokens();
    expect((await callMcp(h, 'alpha', tokens.access_token)).status).toBe(200); // verified and cached
    const [head, , sig] = tokens.access_token.split('.');
    const payload = { ...decode(tokens.access_token), sub: 'someone-else', scope: 'mcp admin' };
    expectInvalidToken(await callMcp(h, 'alpha', `${head}.${b64(payload)}.${sig}`), 'token signature invalid');
    expect((await callMcp(h, 'alpha', tokens.access_token)).status).toBe(200);
  });

  it('a key not in our JWKS is refused, even when the header carries it as jwk', async () => {
    const { tokens } = await alphaTokens();
    const attacker = await generateEs256Key();
    const key = { kid: attacker.kid, alg: 'ES256', privateKey: await importKey(attacker.privateJwk, 'ES256') };
    const claims = { ...decode(tokens.access_token), jti: 'attacker-1' };
    const unknownKid = await signJwt(claims, key, 'at+jwt');
    expectInvalidToken(await callMcp(h, 'alpha', unknownKid), 'token signing key not recognised');
    // Same attacker key under our kid, with the public key embedded (jwk) and a jku: both ignored.
    const ourKid = header(tokens.access_token).kid as string;
    const spoofed = await signJwt(claims, { ...key, kid: ourKid }, 'at+jwt');
    const [, body, sig] = spoofed.split('.');
    const withJwk = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: ourKid, jwk: attacker.publicJwk, jku: 'https://evil.example/jwks' })}.${body}.${sig}`;
    expectInvalidToken(await callMcp(h, 'alpha', spoofed), 'token signature invalid');
    expectInvalidToken(await callMcp(h, 'alpha', withJwk), 'token signature invalid');
  });

  it('a JWT of ours without typ at+jwt is refused (RFC 9068 §4)', async () => {
    const { tokens } = await alphaTokens();
    const keyRow = (await h.store.listSigningKeys())[0];
    const key = { kid: keyRow.kid, alg: 'ES256', privateKey: await importKey(JSON.parse(keyRow.privateJwk), 'ES256') };
    const asIdToken = await signJwt({ ...decode(tokens.access_token), jti: 'typ-1' }, key, 'JWT');
    expectInvalidToken(await callMcp(h, 'alpha', asIdToken), 'token invalid');
  });

  it('a token from an issuer we do not trust is refused', async () => {
    const { tokens } = await alphaTokens();
    const [head, , sig] = tokens.access_token.split('.');
    expectInvalidToken(await callMcp(h, 'alpha', `${head}.${b64({ ...decode(tokens.access_token), iss: 'https://evil.example' })}.${sig}`), 'token issuer not trusted');
  });

  it('insufficient scope is a 403 step-up challenge', async () => {
    const { tokens } = await alphaTokens();
    const outcome = await h.oauth.guard.authenticate(`Bearer ${tokens.access_token}`, 'alpha', ['mcp', 'mcp:admin']);
    expect(outcome).toMatchObject({ ok: false, status: 403, body: { error: 'insufficient_scope' } });
    if (!outcome.ok) {
      expect(outcome.wwwAuthenticate).toBe(
        `Bearer error="insufficient_scope", scope="mcp mcp:admin", resource_metadata="${h.baseUrl}/.well-known/oauth-protected-resource/mcp/alpha", error_description="token lacks a required scope"`,
      );
    }
  });
});

describe('revocation beats the cache', () => {
  it('a revoked access token is refused on the next call, though it was cached', async () => {
    const { as, client, tokens } = await alphaTokens();
    expect((await callMcp(h, 'alpha', tokens.access_token)).status).toBe(200);
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, oauth.None(), tokens.access_token, insecure));
    expectInvalidToken(await callMcp(h, 'alpha', tokens.access_token), 'token revoked');
  });

  it('a revocation recorded by another instance arrives with the next poll', async () => {
    const { tokens } = await alphaTokens();
    expect((await callMcp(h, 'alpha', tokens.access_token)).status).toBe(200);
    await h.store.revokeAccessToken(decode(tokens.access_token).jti as string, h.clock.now);
    await h.oauth.revocations.sync();
    expectInvalidToken(await callMcp(h, 'alpha', tokens.access_token), 'token revoked');
  });
});

describe('refresh tokens', () => {
  it('reuse of a rotated refresh token revokes the whole family', async () => {
    const { client, tokens } = await alphaTokens();
    const first = await postToken(h, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: client.client_id });
    expect(first.status).toBe(200);
    const reuse = await postToken(h, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: client.client_id });
    expect(reuse).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // The attacker's (or victim's) newer tokens die with the family.
    const next = await postToken(h, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string, client_id: client.client_id });
    expect(next).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expectInvalidToken(await callMcp(h, 'alpha', first.body.access_token as string), 'token revoked');
    expectInvalidToken(await callMcp(h, 'alpha', tokens.access_token), 'token revoked');
  });

  it('may narrow the scope but never widen it, and never change the resource', async () => {
    const { client, tokens } = await alphaTokens();
    const wider = await postToken(h, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: client.client_id, scope: 'mcp mcp:admin' });
    expect(wider).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
    const other = await postToken(h, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: client.client_id, resource: h.resource('beta') });
    expect(other).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
  });

  it('a refresh token presented by another client is refused', async () => {
    const { tokens } = await alphaTokens();
    const as = await discover(h);
    const other = await registerPublicClient(as);
    const r = await postToken(h, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: other.client_id });
    expect(r).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });
});

describe('authorization codes', () => {
  it('code replay is refused and revokes the tokens the code issued', async () => {
    const { client, verifier, code } = await freshCode();
    const first = await redeem(client, code, verifier);
    expect(first.status).toBe(200);
    expect((await callMcp(h, 'alpha', first.body.access_token as string)).status).toBe(200);
    const replay = await redeem(client, code, verifier);
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expectInvalidToken(await callMcp(h, 'alpha', first.body.access_token as string), 'token revoked');
    const refresh = await postToken(h, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string, client_id: client.client_id });
    expect(refresh).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('two concurrent redemptions of one code: at most one succeeds', async () => {
    const { client, verifier, code } = await freshCode();
    const results = await Promise.all([redeem(client, code, verifier), redeem(client, code, verifier), redeem(client, code, verifier)]);
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeLessThanOrEqual(1);
    for (const r of results.filter((x) => x.status !== 200)) expect(r).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('an expired code is refused', async () => {
    const { client, verifier, code } = await freshCode();
    h.clock.advance(61_000);
    try {
      expect(await redeem(client, code, verifier)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    } finally {
      h.clock.advance(-61_000);
    }
  });

  it('PKCE: a wrong verifier is invalid_grant, a missing one invalid_request', async () => {
    const { client, code } = await freshCode();
    expect(await redeem(client, code, oauth.generateRandomCodeVerifier())).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await redeem(client, code, undefined)).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });

  it('a redirect_uri different from the authorization request is refused at the token endpoint', async () => {
    const { client, verifier, code } = await freshCode();
    const r = await redeem(client, code, verifier, { redirect_uri: 'http://127.0.0.1:43110/other' });
    expect(r).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('a resource different from the authorized one is refused at the token endpoint', async () => {
    const { client, verifier, code } = await freshCode();
    const r = await redeem(client, code, verifier, { resource: h.resource('beta') });
    expect(r).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
  });
});

describe('authorization request validation', () => {
  async function authorize(tweak: (p: URLSearchParams) => void) {
    const as = await discover(h);
    const client = await registerPublicClient(as);
    const started = await authorizationUrl(as, client, h.resource('alpha'), tweak);
    const res = await fetch(started.url, { redirect: 'manual' });
    return { res, started, location: res.headers.get('location') ? new URL(res.headers.get('location')!) : undefined };
  }

  it.each([
    ['PKCE missing', (p: URLSearchParams) => (p.delete('code_challenge'), p.delete('code_challenge_method')), 'invalid_request'],
    ['PKCE plain', (p: URLSearchParams) => p.set('code_challenge_method', 'plain'), 'invalid_request'],
    ['PKCE method missing (would default to plain)', (p: URLSearchParams) => p.delete('code_challenge_method'), 'invalid_request'],
    ['resource missing', (p: URLSearchParams) => p.delete('resource'), 'invalid_target'],
    ['resource unregistered', (p: URLSearchParams) => p.set('resource', 'https://evil.example/mcp'), 'invalid_target'],
    ['resource a sibling path', (p: URLSearchParams) => p.set('resource', `${p.get('resource')}/../gamma`), 'invalid_target'],
    ['two resources', (p: URLSearchParams) => p.append('resource', p.get('resource')!.replace('alpha', 'beta')), 'invalid_target'],
    ['implicit flow', (p: URLSearchParams) => p.set('response_type', 'token'), 'unsupported_response_type'],
    ['unknown scope', (p: URLSearchParams) => p.set('scope', 'mcp root'), 'invalid_scope'],
  ])('%s: error redirected to the verified redirect URI', async (_name, tweak, error) => {
    const { res, location, started } = await authorize(tweak);
    expect(res.status).toBe(302);
    expect(location?.origin + location!.pathname).toBe(REDIRECT_URI);
    expect(location?.searchParams.get('error')).toBe(error);
    expect(location?.searchParams.get('state')).toBe(started.state);
    expect(location?.searchParams.get('iss')).toBe(h.baseUrl);
  });

  it.each([
    ['redirect_uri mismatch', (p: URLSearchParams) => p.set('redirect_uri', 'https://evil.example/steal'), 'invalid_request'],
    ['redirect_uri on another loopback path', (p: URLSearchParams) => p.set('redirect_uri', 'http://127.0.0.1:43110/callback/x'), 'invalid_request'],
    ['redirect_uri missing', (p: URLSearchParams) => p.delete('redirect_uri'), 'invalid_request'],
    ['unknown client', (p: URLSearchParams) => p.set('client_id', 'nobody'), 'invalid_client'],
    ['unknown client with an evil redirect', (p: URLSearchParams) => (p.set('client_id', 'nobody'), p.set('redirect_uri', 'https://evil.example/')), 'invalid_client'],
  ])('%s: shown on a page, never redirected', async (_name, tweak, error) => {
    const { res } = await authorize(tweak);
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain(error);
  });

  it('a loopback redirect URI may use another port (RFC 8252 §7.3)', async () => {
    const { res, location } = await authorize((p) => p.set('redirect_uri', 'http://127.0.0.1:5999/callback'));
    expect(res.status).toBe(200); // the login page
    expect(location).toBeUndefined();
  });
});

describe('dynamic registration rate limit', () => {
  it('answers 429 once an address registers too often', async () => {
    const limited = await startHarness({ oauth: { registration: { maxPerMinutePerIp: 2 } } });
    try {
      const post = () =>
        fetch(`${limited.baseUrl}/oauth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none' }),
        });
      expect((await post()).status).toBe(201);
      expect((await post()).status).toBe(201);
      const third = await post();
      expect(third.status).toBe(429);
      expect(third.headers.get('retry-after')).toBe('60');
    } finally {
      await limited.close();
    }
  });
});
