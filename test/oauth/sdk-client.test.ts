import { auth, extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestOAuthProvider } from '../helpers/oauth-provider.js';
import { callMcp } from './client.js';
import { startHarness, USER, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

describe('the official SDK v1 client OAuth, unchanged', () => {
  it('discovers from the 401, registers, authorizes, exchanges the code and refreshes', async () => {
    const serverUrl = new URL(h.resource('alpha'));
    const unauthenticated = await fetch(serverUrl, { method: 'POST' });
    expect(unauthenticated.status).toBe(401);
    const { resourceMetadataUrl, scope } = extractWWWAuthenticateParams(unauthenticated);
    expect(resourceMetadataUrl?.href).toBe(`${h.baseUrl}/.well-known/oauth-protected-resource/mcp/alpha`);
    expect(scope).toBe('mcp');

    let code: string | undefined;
    const provider = new TestOAuthProvider({ credentials: USER, onCode: (c) => (code = c) });
    expect(await auth(provider, { serverUrl, resourceMetadataUrl, scope })).toBe('REDIRECT');
    expect(code).toBeTruthy();
    expect(provider.clientInformation()?.client_id).toBeTruthy();

    expect(await auth(provider, { serverUrl, resourceMetadataUrl, authorizationCode: code })).toBe('AUTHORIZED');
    const first = provider.tokens()!;
    expect((await callMcp(h, 'alpha', first.access_token)).status).toBe(200);
    // The SDK sent the resource it read from the metadata, so the token is bound to alpha only.
    expect((await callMcp(h, 'beta', first.access_token)).status).toBe(401);

    expect(await auth(provider, { serverUrl, resourceMetadataUrl })).toBe('AUTHORIZED');
    const second = provider.tokens()!;
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await callMcp(h, 'alpha', second.access_token)).status).toBe(200);
  });
});
