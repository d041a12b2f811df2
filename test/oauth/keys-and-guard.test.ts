import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenIssuer } from '../../src/oauth/issue-tokens.js';
import { generateEs256Key, importKey, signJwt } from '../../src/oauth/jwt.js';
import { createResourceGuard } from '../../src/oauth/resource-guard.js';
import { createRevocationList } from '../../src/oauth/revocation-list.js';
import { createSigningKeys } from '../../src/oauth/signing-keys.js';
import type { TokenVerifier } from '../../src/oauth/verify-token.js';
import { callMcp } from './client.js';
import { startHarness, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const tokenInput = (resource: string) => ({
  subject: 'alice',
  clientId: 'c1',
  agentId: 'agent-1',
  tenant: null,
  resource,
  scopes: ['mcp'],
  grantId: null,
  grantType: 'authorization_code' as const,
});

describe('signing keys', () => {
  it('rotation keeps the old key published and verifying until its tokens have expired', async () => {
    const before = await h.oauth.issuer.issueAccessToken(tokenInput(h.resource('alpha')));
    await h.oauth.keys.rotate();
    const after = await h.oauth.issuer.issueAccessToken(tokenInput(h.resource('alpha')));
    const kid = (t: string) => JSON.parse(Buffer.from(t.split('.')[0], 'base64url').toString()).kid as string;
    expect(kid(after.token)).not.toBe(kid(before.token));
    const jwks = (await (await fetch(`${h.baseUrl}/oauth/jwks`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([kid(before.token), kid(after.token)]));
    expect((await callMcp(h, 'alpha', before.token)).status).toBe(200);
    expect((await callMcp(h, 'alpha', after.token)).status).toBe(200);

    // Past the longest token lifetime (plus grace) the retired key is dropped on reload.
    h.clock.advance((3600 + 301) * 1000);
    try {
      await h.oauth.keys.reloadIfStale();
      const later = (await (await fetch(`${h.baseUrl}/oauth/jwks`)).json()) as { keys: { kid: string }[] };
      expect(later.keys.map((k) => k.kid)).toEqual([kid(after.token)]);
    } finally {
      h.clock.advance(-(3600 + 301) * 1000);
    }
  });

  it('a rotation done by another instance or process becomes this one’s signing key at the next re-read', async () => {
    const opts = { store: h.store, clock: () => h.clock.now, accessTokenTtl: 3600 };
    const elsewhere = createSigningKeys({ ...opts, refreshMs: 0 });
    const here = createSigningKeys({ ...opts, refreshMs: 50 });
    await Promise.all([elsewhere.load(), here.load()]);
    try {
      expect(here.current().kid).toBe(elsewhere.current().kid);
      await elsewhere.rotate();
      const rotatedIn = elsewhere.current().kid;
      expect(here.current().kid).not.toBe(rotatedIn);
      // Without the re-read this instance would sign with the retired key until it is deleted,
      // and its tokens would then fail everywhere else.
      for (let i = 0; i < 100 && here.current().kid !== rotatedIn; i++) await new Promise((r) => setTimeout(r, 20));
      expect(here.current().kid).toBe(rotatedIn);
      expect(here.jwks().keys.map((k) => k.kid)).toContain(rotatedIn);
    } finally {
      here.close();
      elsewhere.close();
    }
  });

  it('a key another instance rotated in is picked up from the store, not refused forever', async () => {
    const other = createSigningKeys({ store: h.store, clock: () => h.clock.now, accessTokenTtl: 3600 });
    await other.load();
    await other.rotate();
    const issuer = createTokenIssuer({ settings: h.oauth.settings, keys: other, store: h.store, clock: () => h.clock.now });
    const token = (await issuer.issueAccessToken(tokenInput(h.resource('alpha')))).token;
    h.clock.advance(11_000); // past the reload cooldown
    try {
      expect((await callMcp(h, 'alpha', token)).status).toBe(200);
    } finally {
      h.clock.advance(-11_000);
    }
  });
});

describe('resource guard', () => {
  const verified = (resource: string) => ({
    ok: true as const,
    token: { issuer: 'i', subject: 's', clientId: 'c', agentId: 'a', audience: resource, scopes: ['mcp'], jti: 'j1', expiresAt: Date.now() + 60_000, tenant: null, derivedFrom: [], claims: {} },
  });

  function guardWith(verifier: TokenVerifier, enforceAuth = true) {
    const revocations = createRevocationList({ store: h.store, clock: Date.now, logger: pino({ level: 'silent' }) });
    const guard = createResourceGuard({ settings: h.oauth.settings, verifier, revocations, clock: Date.now, logger: pino({ level: 'silent' }), enforceAuth });
    return { guard, revocations };
  }

  it('verifies a token once, then serves it from the cache (hot path)', async () => {
    let calls = 0;
    const { guard } = guardWith({
      async verifyAccessToken() {
        calls += 1;
        return verified(h.resource('alpha'));
      },
    });
    const header = 'Bearer abc.def.ghi';
    expect((await guard.authenticate(header, 'alpha')).ok).toBe(true);
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) await guard.authenticate(header, 'alpha');
    const perCallUs = ((performance.now() - started) * 1000) / 10_000;
    expect(calls).toBe(1);
    expect(perCallUs).toBeLessThan(20); // Map-lookup territory; a verify costs ~300 µs
  });

  it('refuses a cached token once it expires (past the clock tolerance), and does not keep it', async () => {
    let now = Date.now();
    let calls = 0;
    const token = verified(h.resource('alpha'));
    const revocations = createRevocationList({ store: h.store, clock: () => now, logger: pino({ level: 'silent' }) });
    const guard = createResourceGuard({
      settings: h.oauth.settings,
      verifier: {
        async verifyAccessToken() {
          calls += 1;
          return token;
        },
      },
      revocations,
      clock: () => now,
      logger: pino({ level: 'silent' }),
      enforceAuth: true,
      clockToleranceSec: 30,
    });
    expect((await guard.authenticate('Bearer tok', 'alpha')).ok).toBe(true);
    now = token.token.expiresAt + 29_000;
    expect((await guard.authenticate('Bearer tok', 'alpha')).ok).toBe(true);
    expect(calls).toBe(1);
    now = token.token.expiresAt + 31_000;
    expect(await guard.authenticate('Bearer tok', 'alpha')).toMatchObject({ ok: false, status: 401, body: { error: 'invalid_token', error_description: 'token expired' } });
    // Dropped from the cache: the next request goes to the verifier again.
    expect(await guard.authenticate('Bearer tok', 'alpha')).toMatchObject({ ok: false, body: { error_description: 'token expired' } });
    expect(calls).toBe(2);
  });

  it('revocation wins over a cached entry', async () => {
    const { guard, revocations } = guardWith({ verifyAccessToken: async () => verified(h.resource('alpha')) });
    expect((await guard.authenticate('Bearer tok', 'alpha')).ok).toBe(true);
    revocations.add({ jti: 'j1', expiresAt: Date.now() + 60_000, revokedAt: Date.now() });
    expect(await guard.authenticate('Bearer tok', 'alpha')).toMatchObject({ ok: false, status: 401, body: { error: 'invalid_token' } });
  });

  it.each([
    ['no header', undefined, 'unauthorized', false],
    ['another scheme', 'Basic dXNlcjpwdw==', 'unauthorized', false],
    ['an empty bearer', 'Bearer', 'invalid_token', true],
    ['a malformed bearer', 'Bearer a b c', 'invalid_token', true],
  ])('%s: 401', async (_name, header, error, withError) => {
    const { guard } = guardWith({ verifyAccessToken: async () => ({ ok: false, failure: 'malformed', message: 'x' }) });
    const outcome = await guard.authenticate(header, 'alpha');
    expect(outcome).toMatchObject({ ok: false, status: 401, body: { error } });
    if (!outcome.ok) expect(outcome.wwwAuthenticate.includes('error="invalid_token"')).toBe(withError);
  });

  it('enforceAuth false serves token-less requests as anonymous, but still refuses bad tokens', async () => {
    const { guard } = guardWith({ verifyAccessToken: async () => ({ ok: false, failure: 'bad_signature', message: 'x' }) }, false);
    expect(await guard.authenticate(undefined, 'alpha')).toMatchObject({ ok: true, principal: { key: 'anonymous' } });
    expect(await guard.authenticate('Bearer x.y.z', 'alpha')).toMatchObject({ ok: false, status: 401 });
  });
});

describe('trusted external issuers', () => {
  it('accepts an IdP token whose aud is this resource, mapping it to an agent', async () => {
    const idpKey = await generateEs256Key();
    const jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [idpKey.publicJwk] })));
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
    const ext = await startHarness({ oauth: { trustedIssuers: [{ issuer: 'https://idp.example', jwksUri, claims: { clientId: 'azp' } }] } });
    try {
      const key = { kid: idpKey.kid, alg: 'ES256', privateKey: await importKey(idpKey.privateJwk, 'ES256') };
      const now = Math.floor(ext.clock.now / 1000);
      const sign = (aud: string | string[]) => signJwt({ iss: 'https://idp.example', sub: 'bob', azp: 'team-cli', aud, scope: 'mcp', iat: now, exp: now + 300, jti: `ext-${Math.random()}` }, key, 'JWT');
      const ok = await callMcp(ext, 'alpha', await sign([ext.resource('alpha'), 'https://idp.example/userinfo']));
      expect(ok.status).toBe(200);
      expect(ok.body.principal).toMatchObject({ subject: 'https://idp.example#bob', clientId: 'team-cli' });
      const agent = await ext.agents.get((ok.body.principal as { agentId: string }).agentId);
      expect(agent).toMatchObject({ userId: 'https://idp.example#bob', clientId: 'team-cli', type: 'interactive' });
      expect((await callMcp(ext, 'beta', await sign(ext.resource('alpha')))).status).toBe(401);
    } finally {
      await ext.close();
      jwksServer.close();
    }
  });
});

describe('housekeeping', () => {
  it('deletes expired rows but keeps live grants', async () => {
    const live = await h.oauth.issuer.issueAccessToken(tokenInput(h.resource('alpha')));
    await h.store.deleteExpired(h.clock.now + 2 * 3600_000);
    expect(await h.store.getAccessToken(JSON.parse(Buffer.from(live.token.split('.')[1], 'base64url').toString()).jti)).toBeUndefined();
    await h.store.deleteExpired(h.clock.now);
  });
});
