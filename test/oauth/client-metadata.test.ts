import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeInBrowser } from '../helpers/oauth-provider.js';
import { callMcp, postToken, REDIRECT_URI } from './client.js';
import { startHarness, USER, type Harness } from './harness.js';
import { json, startTlsServer, type TlsServer } from './tls-server.js';

let tls: TlsServer;
let h: Harness;
beforeAll(async () => {
  tls = await startTlsServer();
  h = await startHarness({ fetcherForTests: { allowLoopback: true, ca: tls.ca } });
});
afterAll(async () => {
  await h.close();
  await tls.close();
});

function document(path: string, overrides: Record<string, unknown> = {}) {
  const clientId = tls.url(path);
  tls.routes.set(path, json({ client_id: clientId, client_name: 'Metadata Client', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code'], token_endpoint_auth_method: 'none', ...overrides }, { 'cache-control': 'max-age=600' }));
  return clientId;
}

async function authorize(clientId: string, redirectUri = REDIRECT_URI) {
  const verifier = oauth.generateRandomCodeVerifier();
  const url = new URL(`${h.baseUrl}/oauth/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 's1',
    resource: h.resource('alpha'),
  }).toString();
  return { url, verifier };
}

describe('client ID metadata documents', () => {
  it('an https client_id is fetched, validated and usable for the whole flow', async () => {
    const clientId = document('/clients/good.json');
    const { url, verifier } = await authorize(clientId);
    const outcome = await authorizeInBrowser(url, USER);
    expect(outcome.kind).toBe('redirect');
    if (outcome.kind !== 'redirect') return;
    const code = outcome.url.searchParams.get('code')!;
    const r = await postToken(h, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier, client_id: clientId });
    expect(r.status).toBe(200);
    expect(r.body.refresh_token).toBeUndefined(); // the document did not ask for refresh_token
    const mcp = await callMcp(h, 'alpha', r.body.access_token as string);
    expect(mcp.body.principal).toMatchObject({ clientId });
  });

  it.each([
    ['a client_id that differs from the URL', { client_id: 'https://other.example/client.json' }, 'does not match'],
    ['no client_name', { client_name: undefined }, 'client_name'],
    ['an http redirect URI on a public host', { redirect_uris: ['http://evil.example/cb'] }, 'https'],
    ['a client secret', { client_secret: 'shh' }, 'secret'],
    ['client_credentials', { grant_types: ['client_credentials'] }, 'grant_types'],
  ])('refuses a document with %s, on a page', async (_name, overrides, message) => {
    const path = `/clients/bad-${Math.random().toString(36).slice(2)}.json`;
    const { url } = await authorize(document(path, overrides));
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    const html = await res.text();
    expect(html).toContain('invalid_client');
    expect(html).toContain(message);
  });

  it('refuses a redirect URI the document does not list, on a page', async () => {
    const { url } = await authorize(document('/clients/strict.json'), 'http://127.0.0.1:43110/elsewhere');
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });

  it.each([
    ['http', 'http://example.com/client.json'],
    ['no path', `https://localhost:1/`],
    ['a private address', 'https://10.0.0.1/client.json'],
  ])('refuses a client_id URL with %s', async (_name, clientId) => {
    const { url } = await authorize(clientId);
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });
});

describe('client ID metadata documents without the test-only loopback allowance', () => {
  it('refuses to fetch a document that resolves to loopback', async () => {
    const strict = await startHarness({ fetcherForTests: { ca: tls.ca } });
    try {
      const clientId = document('/clients/loopback.json');
      const verifier = oauth.generateRandomCodeVerifier();
      const url = new URL(`${strict.baseUrl}/oauth/authorize`);
      url.search = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: REDIRECT_URI,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        resource: strict.resource('alpha'),
      }).toString();
      const res = await fetch(url, { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('not a public address');
    } finally {
      await strict.close();
    }
  });
});
