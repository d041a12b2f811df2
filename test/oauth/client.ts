/**
 * oauth4webapi as the strict second client: it checks the metadata's `issuer`, the RFC 9207
 * `iss` of the authorization response and the shape of every response.
 */
import * as oauth from 'oauth4webapi';
import { authorizeInBrowser, type BrowserOutcome } from '../helpers/oauth-provider.js';
import { USER, type Harness } from './harness.js';

export const insecure = { [oauth.allowInsecureRequests]: true } as const;
export const REDIRECT_URI = 'http://127.0.0.1:43110/callback';

export async function discover(h: Harness): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(h.baseUrl);
  const res = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure });
  return oauth.processDiscoveryResponse(issuer, res);
}

/** Registers a public client (RFC 7591) that may refresh. */
export async function registerPublicClient(as: oauth.AuthorizationServer, extra: Partial<oauth.OmitSymbolProperties<oauth.Client>> = {}): Promise<oauth.Client> {
  const res = await oauth.dynamicClientRegistrationRequest(
    as,
    {
      client_name: 'Strict test client',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
      ...extra,
    },
    insecure,
  );
  return oauth.processDynamicClientRegistrationResponse(res);
}

export interface StartedAuthorization {
  url: URL;
  verifier: string;
  state: string;
}

/** Builds an authorization URL with PKCE S256; `tweak` edits it to craft an attack. */
export async function authorizationUrl(
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  resource: string,
  tweak: (params: URLSearchParams) => void = () => {},
): Promise<StartedAuthorization> {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint!);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', client.client_id);
  url.searchParams.set('redirect_uri', REDIRECT_URI);
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', state);
  url.searchParams.set('scope', 'mcp');
  url.searchParams.set('resource', resource);
  tweak(url.searchParams);
  return { url, verifier, state };
}

/** Runs the browser part and returns the validated callback parameters. */
export async function obtainCode(
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  started: StartedAuthorization,
): Promise<{ params: URLSearchParams; outcome: BrowserOutcome }> {
  const outcome = await authorizeInBrowser(started.url, USER);
  if (outcome.kind !== 'redirect') throw new Error(`expected a redirect, got page ${outcome.status}: ${outcome.html.slice(0, 300)}`);
  const params = oauth.validateAuthResponse(as, client, outcome.url, started.state);
  return { params, outcome };
}

/** The whole code flow for one resource: tokens as oauth4webapi validated them. */
export async function codeFlow(h: Harness, resource: string) {
  const as = await discover(h);
  const client = await registerPublicClient(as);
  const started = await authorizationUrl(as, client, resource);
  const { params } = await obtainCode(as, client, started);
  const res = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT_URI, started.verifier, {
    additionalParameters: { resource },
    ...insecure,
  });
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, res);
  return { as, client, tokens };
}

/** POSTs a form to the token endpoint and returns status and JSON. */
export async function postToken(h: Harness, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${h.baseUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** Calls the stand-in MCP endpoint with a bearer token. */
export async function callMcp(h: Harness, server: string, token?: string) {
  const res = await fetch(`${h.baseUrl}/mcp/${server}`, {
    method: 'POST',
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: res.status, wwwAuthenticate: res.headers.get('www-authenticate'), body: (await res.json()) as Record<string, unknown> };
}
